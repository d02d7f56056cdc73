import SiteSyncCore

extension ChangeStatus {
    /// The status stored in `sync_change.status`. A number no SiteSync writes reads as
    /// retracted: held, without effect, the safe reading of a damaged row.
    static func stored(_ raw: Int64) -> ChangeStatus {
        ChangeStatus(rawValue: raw) ?? .retracted
    }
}
