// The private PostgreSQL cluster the tests start (the bench starts it too, so it lives in a
// target of its own).
@_exported import SiteSyncPostgresCluster
