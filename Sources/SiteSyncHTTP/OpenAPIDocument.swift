/// The API's contract (protocol/http-api.yaml), compiled into the binary.
enum OpenAPIDocument {
    static let bytes: [UInt8] = PackageResources.http_api_yaml
}
