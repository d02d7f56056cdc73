import SiteSyncCore
import SiteSyncPerformance

/// What a reader may see: the whole city, or one department's projects and everything under
/// them — exactly what a field node of that department receives (``ReplicationScope``):
/// its own records and the shared ones (department names, closed periods) — and, for a
/// project lead, only some of that department's projects (``projects``).
public struct ReadScope: Sendable, Hashable {
    /// The department; `nil` for the whole city.
    public let department: String?
    /// The codes of the only projects in scope, lower-cased (codes match case-insensitively, as
    /// everywhere a person types one); `nil` for no project restriction. Records outside any
    /// project (department names, closed periods) stay in scope, and the department's headline
    /// figures (``FiguresSnapshot/city(_:)``, ``FiguresSnapshot/departments(_:)``) stay the
    /// department's: the lead reads how their department stands, and only their projects' rows.
    public let projects: Set<String>?

    public init(department: String?, projects: Set<String>? = nil) {
        self.department = department
        self.projects = projects.map { Set($0.map { $0.lowercased() }) }
    }

    /// The whole city.
    public static let city = ReadScope(department: nil)

    public static func department(_ code: String) -> ReadScope { ReadScope(department: code) }

    /// Whether a record of `department` ("" for a shared one) is in scope. Says nothing of the
    /// project restriction: check ``includes(projectCode:of:)`` for a record of a project.
    public func includes(department recordDepartment: String) -> Bool {
        replication.includes(department: recordDepartment)
    }

    /// Whether a project of `department` is in scope (a project always has a department).
    func includesProject(of projectDepartment: String) -> Bool {
        department.map { $0 == projectDepartment } ?? true
    }

    /// Whether the project of code `code` in `projectDepartment` is in scope: its department is,
    /// and it is one of ``projects`` when they are given.
    public func includes(projectCode code: String, of projectDepartment: String) -> Bool {
        includesProject(of: projectDepartment) && (projects.map { $0.contains(code.lowercased()) } ?? true)
    }

    /// Whether an assessed project is in scope (``includes(projectCode:of:)``).
    func includes(_ project: ProjectInput) -> Bool { includes(projectCode: project.code, of: project.department) }

    /// Text that tells scopes apart, for caches keyed by scope: the department, then the codes.
    public var cacheKey: String {
        (department ?? "") + (projects.map { "|" + $0.sorted().joined(separator: ",") } ?? "")
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
        if let stage, (row.project.stage ?? "initiation") != stage { return false }  // a project without a stage is in initiation
        return true
    }
}
