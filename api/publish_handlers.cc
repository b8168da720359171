// Publishing with the Hub's clients (hub-protocol §12): repos created and deleted, preupload,
// commits, branches and tags. These handlers check who may write and read the requests; the
// Publisher (publisher.h) stores content and makes commits, and the writer connection moves refs.
#include <map>

#include "api/access.h"
#include "api/admin_actions.h"
#include "api/commit_request.h"
#include "api/write_access.h"
#include "common/digest.h"
#include "common/lfs_rules.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

// A .gitattributes larger than this is not read for LFS rules.
constexpr uint64_t kMaxGitattributesBytes = 1u << 20;

// "{origin}/{prefix}{repo}": the repo's URL, as the clients parse it.
std::string RepoUrl(const RequestContext& context, RepoType type, const std::string& repo) {
  return context.origin + "/" + (type == RepoType::kDataset ? "datasets/" : "") + repo;
}

// The repo type a body names ("type"; a model when absent, as the Python client sends models).
Status BodyRepoType(const json& body, RepoType* type) {
  *type = RepoType::kModel;
  if (auto kind = body.find("type"); kind != body.end() && !kind->is_null()) {
    if (!kind->is_string() || !ParseRepoType(kind->get<std::string>(), type)) {
      return InvalidArgument("\"type\" must be model or dataset (spaces are not hosted here)");
    }
  }
  return Status::Ok();
}

// The repo id of a create or delete body: "organization/name", or the caller's own namespace.
Result<std::string> BodyRepoId(const RequestContext& context, const json& body, RepoType* type) {
  auto name = body.find("name");
  if (name == body.end() || !name->is_string()) return InvalidArgument("the body needs \"name\"");
  std::string space = context.caller.name();
  if (auto org = body.find("organization"); org != body.end() && !org->is_null()) {
    if (!org->is_string()) return InvalidArgument("\"organization\" must be a string");
    space = org->get<std::string>();
  }
  std::string id = name->get<std::string>();
  if (id.find('/') == std::string::npos) id = space + "/" + id;
  HM_RETURN_IF_ERROR(ValidateRepoId(id));
  HM_RETURN_IF_ERROR(BodyRepoType(body, type));
  return id;
}

// The LFS rules at a revision: the Hub's defaults, its .gitattributes, and `extra` (a
// .gitattributes the commit brings).
Result<std::vector<std::string>> LfsPatterns(const RequestContext& context,
                                             const registry::Repo& repo,
                                             const std::string& commit_id,
                                             const std::string& extra) {
  std::vector<std::string> patterns = DefaultLfsPatterns();
  auto attributes = context.registry.FindEntry(repo, commit_id, ".gitattributes");
  if (!attributes.ok()) return attributes.status();
  if (*attributes && !(*attributes)->lfs && !(*attributes)->sha256.empty()) {
    auto text =
        storage::ReadWholeBlob(context.store, (*attributes)->sha256, kMaxGitattributesBytes);
    if (text.ok()) {
      for (auto& pattern : ParseLfsPatterns(*text)) patterns.push_back(std::move(pattern));
    }
  }
  for (auto& pattern : ParseLfsPatterns(extra)) patterns.push_back(std::move(pattern));
  return patterns;
}

// The bytes of the content a commit adds that no repo of its namespace uses yet: what it adds to
// the namespace's quota. LFS content not stored counts for nothing (the commit fails anyway).
Result<uint64_t> NewContentBytes(const RequestContext& context, const registry::Repo& repo,
                                 const std::vector<CommitOperation>& operations) {
  std::map<std::string, uint64_t> added;  // by sha256
  for (const auto& op : operations) {
    if (op.kind == CommitOperation::Kind::kAddFile) {
      added[Sha256Hex(op.content)] = op.content.size();
    } else if (op.kind == CommitOperation::Kind::kAddLfsFile) {
      if (auto stored = context.store.Open(op.sha256); stored.ok()) {
        added[op.sha256] = stored->size();
      }
    }
  }
  std::vector<std::string> sha256s;
  for (const auto& [sha256, size] : added) sha256s.push_back(sha256);
  auto used = context.registry.NamespaceUses(RepoNamespace(repo.name), sha256s);
  if (!used.ok()) return used.status();
  uint64_t bytes = 0;
  for (size_t i = 0; i < sha256s.size(); ++i) {
    if (!(*used)[i]) bytes += added[sha256s[i]];
  }
  return bytes;
}

// A commit's failure as the Hub answers it.
Response CommitError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kFailedPrecondition: {
      Response response = ErrorResponse(ApiError::kConflict, status.message(), true);
      response.status = http::status::precondition_failed;
      return response;
    }
    case StatusCode::kCorrupt:
    case StatusCode::kInvalidArgument: {
      Response response = ErrorResponse(ApiError::kBadRequest, status.message(), true);
      response.status = http::status::unprocessable_entity;
      return response;
    }
    default:
      return ErrorFromStatus(status, true);
  }
}

// Deletes a branch or tag of a writable repo: 404 RevisionNotFound when it does not exist.
Response DeleteRef(const RequestContext& context, const registry::Repo& repo, const RefName& ref) {
  Result<size_t> deleted = size_t{0};
  Status written = Write(context, [&](registry::Registry& registry) {
    deleted = registry.DeleteRefs(repo.type, repo.name, {ref});
    return deleted.status();
  });
  if (!written.ok()) return ErrorFromStatus(written, true);
  if (*deleted == 0) {
    return ErrorResponse(ApiError::kRevisionNotFound, "Invalid rev id: " + ref.name, true);
  }
  std::string kind(RefKindName(ref.kind));
  context.access.Audit(
      CallerEvent(context, kind + ".delete", RepoTarget(repo), "ok", {{kind, ref.name}}));
  return JsonResponse(json::object());
}

// The JSON body and repo id of a create or delete request, or the refusal to answer with.
std::optional<Response> ReadRepoRequest(const RequestContext& context, json* body, RepoType* type,
                                        std::string* id) {
  if (auto refusal = WriterRefusal(context)) return refusal;
  auto parsed = JsonObjectBody(context);
  if (!parsed.ok()) return ErrorFromStatus(parsed.status(), true);
  auto repo_id = BodyRepoId(context, *parsed, type);
  if (!repo_id.ok()) return ErrorFromStatus(repo_id.status(), true);
  *body = std::move(parsed.value());
  *id = std::move(repo_id.value());
  return std::nullopt;
}

// Creates a branch or tag of a writable repo at `revision`: 404 when the revision does not
// resolve, 409 when the name is taken.
Response CreateRefAt(const RequestContext& context, const registry::Repo& repo, const RefName& ref,
                     const std::string& revision) {
  auto commit = context.registry.ResolveRevisionOrPrefix(repo, revision);
  if (!commit.ok()) return ErrorFromStatus(commit.status(), true);
  Status created = Write(context, [&](registry::Registry& registry) {
    return registry.CreateRef(repo.type, repo.name, ref, commit->id);
  });
  if (!created.ok()) return ErrorFromStatus(created, true);
  std::string kind(RefKindName(ref.kind));
  context.access.Audit(CallerEvent(context, kind + ".create", RepoTarget(repo), "ok",
                                   {{kind, ref.name}, {"commit", commit->id}}));
  return JsonResponse(json::object());
}

// What a client that opens a pull request (or a discussion) is told.
Response PullRequestRefusal() {
  return ErrorResponse(ApiError::kBadRequest,
                       "pull requests are not supported here: commit to a branch instead", true);
}

}  // namespace

Response HandleCreateRepo(const RequestContext& context) {
  json body;
  RepoType type = RepoType::kModel;
  std::string id;
  if (auto refusal = ReadRepoRequest(context, &body, &type, &id)) return std::move(*refusal);
  bool is_private = false;
  if (auto hidden = body.find("private"); hidden != body.end() && hidden->is_boolean()) {
    is_private = hidden->get<bool>();
  }
  if (auto visibility = body.find("visibility"); visibility != body.end()) {
    is_private = *visibility == "private";
  }
  std::string space(RepoNamespace(id));
  if (!MayWriteNamespace(context.caller, space)) {
    return ErrorResponse(ApiError::kForbidden,
                         "You don't have the rights to create a repo in " + space, true);
  }
  std::string url = RepoUrl(context, type, id);
  Status created = context.publisher->CreateRepo(type, id, is_private, context.caller.name());
  if (created.code() == StatusCode::kAlreadyExists) {
    // The clients read the existing repo's URL from the 409, spelt as it was created.
    if (auto existing = context.registry.FindRepo(type, id); existing.ok()) {
      url = RepoUrl(context, type, existing->name);
    }
    Response response = JsonResponse({{"error", created.message()}, {"url", url}});
    response.status = http::status::conflict;
    response.Set("X-Error-Message", created.message());
    return response;
  }
  if (!created.ok()) return ErrorFromStatus(created, true);
  auto repo = context.registry.FindRepo(type, id);
  if (!repo.ok()) return ErrorFromStatus(repo.status(), true);
  context.access.Audit(
      CallerEvent(context, "repo.create", RepoTarget(*repo), "ok", {{"private", is_private}}));
  return JsonResponse({{"url", url}, {"name", repo->name}, {"id", repo->object_id}});
}

Response HandleDeleteRepo(const RequestContext& context) {
  json body;
  RepoType type = RepoType::kModel;
  std::string id;
  if (auto refused = ReadRepoRequest(context, &body, &type, &id)) return std::move(*refused);
  Response refusal;
  auto repo = WritableRepo(context, type, id, &refusal, {.ref = "", .whole_repo = true});
  if (!repo) return refusal;
  Status deleted = context.publisher->DeleteRepo(type, repo->name);
  if (!deleted.ok()) return ErrorFromStatus(deleted, true);
  context.access.Audit(CallerEvent(context, "repo.delete", RepoTarget(*repo), "ok"));
  return JsonResponse(json::object());
}

Response HandleMoveRepo(const RequestContext& context) {
  if (auto refused = WriterRefusal(context)) return std::move(*refused);
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  RepoType type = RepoType::kModel;
  std::string from = body->value("fromRepo", json()).is_string() ? (*body)["fromRepo"] : "";
  std::string to = body->value("toRepo", json()).is_string() ? (*body)["toRepo"] : "";
  Status valid = BodyRepoType(*body, &type);
  if (valid.ok()) valid = ValidateRepoId(from);
  if (valid.ok()) valid = ValidateRepoId(to);
  if (!valid.ok()) {
    return ErrorResponse(ApiError::kBadRequest,
                         "the body needs \"fromRepo\" and \"toRepo\": " + valid.message(), true);
  }
  Response refusal;
  auto repo = WritableRepo(context, type, from, &refusal, {.ref = "", .whole_repo = true});
  if (!repo) return refusal;
  std::string space(RepoNamespace(to));
  if (!MayWriteNamespace(context.caller, space)) {
    return ErrorResponse(ApiError::kForbidden,
                         "You don't have the rights to create a repo in " + space, true);
  }
  if (!EqualsIgnoringCase(space, RepoNamespace(repo->name))) {
    // What the namespace would hold with the repo, less what it holds: content it shares counts
    // once.
    auto used = context.registry.NamespaceBytes(space);
    auto with = context.registry.NamespaceBytes(space, repo->id);
    if (!used.ok() || !with.ok()) {
      return ErrorFromStatus(used.ok() ? with.status() : used.status(), true);
    }
    if (auto refused = QuotaRefusal(context, space, *used, *with - *used, "moving " + repo->name)) {
      return std::move(*refused);
    }
  }
  Status moved = Write(context, [&](registry::Registry& registry) {
    return registry.MoveRepo(type, repo->name, to);
  });
  if (moved.code() == StatusCode::kAlreadyExists) {
    return ErrorResponse(ApiError::kConflict, moved.message(), true);
  }
  if (!moved.ok()) return ErrorFromStatus(moved, true);
  context.access.Audit(CallerEvent(context, "repo.move", RepoTarget(*repo), "ok", {{"to", to}}));
  return JsonResponse(json::object());
}

Response HandleValidateYaml(const RequestContext&) {
  // The card is read when it is committed; an invalid one refuses that commit.
  return JsonResponse({{"errors", json::array()}, {"warnings", json::array()}});
}

Response HandlePreupload(const RequestContext& context) {
  Response refusal;
  auto repo = WritableRepo(context, context.route.type, context.route.repo, &refusal);
  if (!repo) return refusal;
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto head = context.registry.ResolveRevision(*repo, context.route.revision);
  if (!head.ok()) return ErrorFromStatus(head.status(), true);
  std::string extra;
  if (auto attributes = body->find("gitAttributes");
      attributes != body->end() && attributes->is_string()) {
    extra = attributes->get<std::string>();
  }
  auto patterns = LfsPatterns(context, *repo, head->id, extra);
  if (!patterns.ok()) return ErrorFromStatus(patterns.status(), true);
  auto files = body->find("files");
  if (files == body->end() || !files->is_array()) {
    return ErrorResponse(ApiError::kBadRequest, "the body needs \"files\"", true);
  }
  json answer = json::array();
  for (const auto& file : *files) {
    if (!file.is_object() || !file.contains("path") || !file["path"].is_string() ||
        !file.contains("size") || !file["size"].is_number_unsigned()) {
      return ErrorResponse(ApiError::kBadRequest, "each file needs \"path\" and \"size\"", true);
    }
    std::string path = file["path"].get<std::string>();
    uint64_t size = file["size"].get<uint64_t>();
    if (Status valid = ValidateRepoPath(path); !valid.ok()) return ErrorFromStatus(valid, true);
    bool lfs = size > 0 && IsLfsFile(path, size, *patterns);
    json entry = {{"path", path}, {"uploadMode", lfs ? "lfs" : "regular"}, {"shouldIgnore", false}};
    auto existing = context.registry.FindEntry(*repo, head->id, path);
    if (!existing.ok()) return ErrorFromStatus(existing.status(), true);
    if (*existing && !(*existing)->is_directory) {
      entry["oid"] = (*existing)->lfs ? (*existing)->sha256 : (*existing)->git_oid;
    }
    answer.push_back(std::move(entry));
  }
  return JsonResponse({{"files", std::move(answer)}, {"commitOid", head->id}});
}

Response HandleCommit(const RequestContext& context) {
  Response refusal;
  auto repo = WritableRepo(context, context.route.type, context.route.repo, &refusal,
                           {.ref = context.route.revision});
  if (!repo) return refusal;
  if (QueryValue(context.route.query, "create_pr").value_or("") == "1") {
    return PullRequestRefusal();
  }
  auto request = ParseCommitRequest(context.request.body());
  if (!request.ok()) return CommitError(request.status());
  request->type = repo->type;
  request->repo = repo->name;
  request->branch = context.route.revision;
  request->author = context.caller.name();
  if (context.publisher->Limits().For(RepoNamespace(repo->name))) {
    auto adding = NewContentBytes(context, *repo, request->operations);
    if (!adding.ok()) return ErrorFromStatus(adding.status(), true);
    if (auto refusal = QuotaRefusal(context, *repo, *adding)) return std::move(*refusal);
  }
  for (const auto& op : request->operations) {
    if (op.kind != CommitOperation::Kind::kAddLfsFile) continue;
    auto may = MayReferenceContent(context, op.sha256);
    if (!may.ok()) return ErrorFromStatus(may.status(), true);
    if (!*may && !context.publisher->Uploaded(context.caller.name(), op.sha256)) {
      return CommitError(Status(StatusCode::kCorrupt, op.path + ": LFS object " + op.sha256 +
                                                          " was not uploaded to this server"));
    }
  }
  auto committed = context.publisher->Commit(*request);
  if (!committed.ok()) return CommitError(committed.status());
  context.access.Audit(CallerEvent(context, "repo.commit", RepoTarget(*repo), "ok",
                                   {{"branch", request->branch}, {"commit", *committed}}));
  return JsonResponse(
      {{"success", true},
       {"commitOid", *committed},
       {"commitUrl", RepoUrl(context, repo->type, repo->name) + "/commit/" + *committed},
       {"hookOutput", ""}});
}

Response HandleBranch(const RequestContext& context) {
  Response refusal;
  auto repo = WritableRepo(context, context.route.type, context.route.repo, &refusal,
                           {.ref = context.route.path});
  if (!repo) return refusal;
  RefName branch{RefKind::kBranch, context.route.path};
  if (!ValidateRefName(branch).ok() || branch.name.rfind("refs/", 0) == 0) {
    return ErrorResponse(ApiError::kBadRequest, "Invalid reference for a branch", true);
  }
  if (context.request.method() == http::verb::delete_) {
    if (branch.name == repo->default_branch) {
      return ErrorResponse(ApiError::kForbidden, "Cannot delete " + FullRefName(branch), true);
    }
    return DeleteRef(context, *repo, branch);
  }
  std::string start = repo->default_branch;
  if (!context.request.body().empty()) {
    auto body = JsonObjectBody(context);
    if (!body.ok()) return ErrorFromStatus(body.status(), true);
    if (auto from = body->find("startingPoint"); from != body->end() && from->is_string()) {
      start = from->get<std::string>();
    }
  }
  return CreateRefAt(context, *repo, branch, start);
}

Response HandleTag(const RequestContext& context) {
  bool removing = context.request.method() == http::verb::delete_;
  // The tag a creation names, read before the repo so that a mirrored repo's own tags are known.
  Result<json> body = json::object();
  if (!removing) body = JsonObjectBody(context);
  std::string name = removing ? context.route.path : "";
  if (body.ok() && body->contains("tag") && (*body)["tag"].is_string()) {
    name = (*body)["tag"].get<std::string>();
  }
  Response refusal;
  auto repo =
      WritableRepo(context, context.route.type, context.route.repo, &refusal, {.ref = name});
  if (!repo) return refusal;
  if (removing) return DeleteRef(context, *repo, RefName{RefKind::kTag, name});
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  if (name.empty()) return ErrorResponse(ApiError::kBadRequest, "the body needs \"tag\"", true);
  RefName tag{RefKind::kTag, name};
  if (!ValidateRefName(tag).ok() || tag.name.rfind("refs/", 0) == 0) {
    return ErrorResponse(ApiError::kBadRequest, "Invalid tag name: " + tag.name.substr(0, 100),
                         true);
  }
  return CreateRefAt(context, *repo, tag, context.route.path);
}

Response HandleDiscussions(const RequestContext& context) {
  // Who may not see the repo learns nothing more than from any other write.
  Response refusal;
  if (!WritableRepo(context, context.route.type, context.route.repo, &refusal)) return refusal;
  return PullRequestRefusal();
}

Response HandleXetWriteToken(const RequestContext&) {
  return ErrorResponse(ApiError::kEntryNotFound,
                       "Xet storage is not supported by this server; set HF_HUB_DISABLE_XET=1",
                       true);
}

}  // namespace hubmirror::api
