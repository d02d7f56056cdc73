import SiteSyncCore
import SiteSyncPerformance

/// What a reader may see: the whole city, or one department's projects and everything under
/// them — exactly what a field node of that department receives (``ReplicationScope``):
/// its own records and the shared ones (department names, closed periods).
public struct ReadScope: Sendable, Hashable {
    /// The department; `nil` for the whole city.
    public let department: String?

    public init(department: String?) { self.department = department }

    /// The whole city.
    public static let city = ReadScope(department: nil)

    public static func department(_ code: String) -> ReadScope { ReadScope(department: code) }

    /// Whether a record of `department` ("" for a shared one) is in scope.
    public func includes(department recordDepartment: String) -> Bool {
        replication.includes(department: recordDepartment)
    }

    /// Whether a project of `department` is in scope (a project always has a department).
    func includesProject(of projectDepartment: String) -> Bool {
        department.map { $0 == projectDepartment } ?? true
    }

    /// The same scope as replication states it.
    public var replication: ReplicationScope { department.map(ReplicationScope.department) ?? .everything }
}

/// Which projects a list shows; `nil` fields do not filter. Values are taken as given: the face
/// checks them first against ``allowedColors``, ``allowedGrades`` and ``allowedStages``.
public struct ProjectFilter: Sendable, Hashable {
    public var department: String?
    public var color: String?
    public var grade: String?
    public var stage: String?

    public init(department: String? = nil, color: String? = nil, grade: String? = nil, stage: String? = nil) {
        self.department = department
        self.color = color
        self.grade = grade
        self.stage = stage
    }

    public static let none = ProjectFilter()

    /// green, amber, red.
    public static let allowedColors: [String] = Color.allCases.map(\.rawValue)
    /// 优, 良, 中, 差.
    public static let allowedGrades: [String] = Grade.allCases.map(\.rawValue)
    /// The schema's values of `project.stage`.
    public static let allowedStages: [String] = {
        guard case .enumeration(let values)? = Schema.siteSync.collection(named: "project")?.field(named: "stage")?.type else { return [] }
        return values
    }()

    func matches(_ row: ProjectAssessment) -> Bool {
        if let department, row.project.department != department { return false }
        if let color, row.color.rawValue != color { return false }
        if let grade, row.grade?.rawValue != grade { return false }
        if let stage, row.project.stage != stage { return false }
        return true
    }
}
