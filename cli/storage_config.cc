#include "cli/storage_config.h"

#include "cli/config_reader.h"
#include "common/files.h"
#include "storage/local_blob_store.h"
#include "storage/s3_blob_store.h"

namespace hubmirror::cli {

const std::set<std::string>& StorageTableKeys() {
  static const std::set<std::string> keys = {
      "max_bytes", "check_interval_seconds", "backend",   "s3_endpoint",         "s3_bucket",
      "s3_region", "s3_addressing",          "s3_prefix", "s3_credentials_file", "serve"};
  return keys;
}

Result<StorageBackend> LoadStorageBackend(const std::filesystem::path& config) {
  StorageBackend backend;
  if (config.empty()) return backend;
  auto root = ParseFile(config);
  if (!root.ok()) return root.status();
  const toml::table* table = Table(*root, "storage");
  if (table == nullptr) return backend;
  ConfigReader reader(config.string());
  HM_RETURN_IF_ERROR(reader.CheckKeys(*table, "storage", StorageTableKeys()));
  std::string kind = "local";
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "backend", &kind));
  if (kind != "local" && kind != "s3") return reader.Fail("storage.backend", "must be local or s3");
  std::string serve = "stream";
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "serve", &serve));
  if (serve != "stream" && serve != "redirect") {
    return reader.Fail("storage.serve", "must be \"stream\" or \"redirect\"");
  }
  backend.s3 = kind == "s3";
  if (serve == "redirect" && !backend.s3) {
    return reader.Fail("storage.serve", "\"redirect\" needs backend = \"s3\"");
  }
  backend.redirect = serve == "redirect";
  storage::S3Location& location = backend.location;
  std::string addressing = "path";
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "s3_endpoint", &location.endpoint));
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "s3_bucket", &location.bucket));
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "s3_region", &location.region));
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "s3_addressing", &addressing));
  HM_RETURN_IF_ERROR(reader.String(*table, "storage", "s3_prefix", &location.prefix));
  HM_RETURN_IF_ERROR(
      reader.String(*table, "storage", "s3_credentials_file", &backend.credentials_file));
  if (addressing != "path" && addressing != "virtual") {
    return reader.Fail("storage.s3_addressing", "must be \"path\" or \"virtual\"");
  }
  location.virtual_host = addressing == "virtual";
  if (!backend.s3) return backend;
  if (location.endpoint.rfind("http://", 0) != 0 && location.endpoint.rfind("https://", 0) != 0) {
    return reader.Fail("storage.s3_endpoint", "must be an http:// or https:// URL");
  }
  while (!location.endpoint.empty() && location.endpoint.back() == '/')
    location.endpoint.pop_back();
  if (location.bucket.size() < 3 || location.bucket.find_first_of("/?#% ") != std::string::npos) {
    return reader.Fail("storage.s3_bucket", "must be a bucket name of 3 characters or more");
  }
  if (!location.prefix.empty() && location.prefix.back() != '/') location.prefix += '/';
  return backend;
}

namespace {

// The file that records which bucket a data directory's blobs are in: a command run on it
// without the config that says so must not read or write the local directory as if it held them.
constexpr const char* kBackendFile = "storage-backend";

// Checks the data directory against the backend asked for, and records a bucket the first time.
Status CheckRecordedBackend(const std::filesystem::path& data_dir, const StorageBackend& backend) {
  std::string wanted = backend.s3 ? "s3 " + backend.location.endpoint + " " +
                                        backend.location.bucket + " " + backend.location.prefix
                                  : "";
  auto recorded = ReadTextFile(data_dir / kBackendFile);
  if (recorded.status().code() == StatusCode::kNotFound) {
    if (!backend.s3) return Status::Ok();
    std::error_code error;
    std::filesystem::create_directories(data_dir, error);
    return WriteFileAtomically(data_dir / kBackendFile, wanted + "\n");
  }
  if (!recorded.ok()) return recorded.status();
  std::string was = recorded->substr(0, recorded->find('\n'));
  if (was == wanted) return Status::Ok();
  return InvalidArgument(data_dir.string() + " keeps its blobs in " + was.substr(0, 300) +
                         (backend.s3 ? ", not in the bucket the config names"
                                     : ": pass the --config FILE whose [storage] names it"));
}

}  // namespace

Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const std::filesystem::path& data_dir,
                                                          const std::filesystem::path& config) {
  auto backend = LoadStorageBackend(config);
  if (!backend.ok()) return backend.status();
  return OpenBlobStore(data_dir, *backend);
}

Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const std::filesystem::path& data_dir,
                                                          const StorageBackend& backend) {
  HM_RETURN_IF_ERROR(CheckRecordedBackend(data_dir, backend));
  if (!backend.s3) {
    auto local = storage::LocalBlobStore::OpenDirectory(data_dir);
    if (!local.ok()) return local.status();
    return std::unique_ptr<storage::BlobStore>(std::move(local.value()));
  }
  auto credentials = storage::LoadS3Credentials(backend.credentials_file);
  if (!credentials.ok()) return credentials.status();
  auto client = std::make_unique<storage::S3Client>(backend.location, std::move(*credentials));
  auto listed = client->List("blobs/", std::nullopt);
  if (!listed.ok()) {
    return Status(listed.status().code(),
                  "the object store does not answer as configured: " + listed.status().message());
  }
  auto store = storage::S3BlobStore::Open(std::move(client), data_dir, backend.redirect);
  if (!store.ok()) return store.status();
  return std::unique_ptr<storage::BlobStore>(std::move(store.value()));
}

}  // namespace hubmirror::cli
