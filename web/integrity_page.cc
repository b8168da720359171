// Integrity (`/-/integrity`): the state of the stored content as verify last found it, the
// verify jobs, the key that signs manifests, each repo's signed manifests, and how to check a
// download with them.
#include "api/access.h"
#include "api/job_control.h"
#include "common/url.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

constexpr size_t kDamagedShown = 50;
constexpr size_t kReposShown = 200;
// Files named per damaged blob, of those read (the first ones may be in hidden repos).
constexpr size_t kUsesShown = 3;
constexpr size_t kUsesRead = 50;

Result<std::string> BlobStates(const RequestContext& context) {
  auto totals = context.registry.BlobTotalsByState();
  if (!totals.ok()) return totals.status();
  std::string html = "<section id=\"blob-states\"><h2>Stored content</h2>" +
                     TableStart("blob-state-table", {"State", "Blobs", "Bytes"});
  static constexpr std::pair<registry::BlobState, std::string_view> kStates[] = {
      {registry::BlobState::kOk, "intact (hashes verified)"},
      {registry::BlobState::kCorrupt, "corrupt (refused, repaired by the next sync)"},
      {registry::BlobState::kMissing, "missing from the store"},
      {registry::BlobState::kAbsent, "not fetched yet (pull-through)"}};
  for (const auto& [state, text] : kStates) {
    const auto& counted = totals->at(state);
    html += "<tr class=\"" + std::string(registry::BlobStateName(state)) + "\"><td>" +
            std::string(text) + "</td><td>" + std::to_string(counted.blobs) + "</td><td>" +
            FormatBytes(counted.bytes) + "</td></tr>";
  }
  html += kTableEnd;
  auto damaged = context.registry.DamagedBlobs(kDamagedShown);
  if (!damaged.ok()) return damaged.status();
  // Content is named only by the files of repos the reader may see.
  std::string items;
  for (const auto& blob : *damaged) {
    auto uses = context.registry.BlobUses(blob.sha256, kUsesRead);
    if (!uses.ok()) return uses.status();
    std::string files;
    size_t named = 0;
    for (const auto& use : *uses) {
      auto hidden = api::HiddenFrom(context, use.type, use.repo);
      if (!hidden.ok()) return hidden.status();
      if (*hidden || named++ >= kUsesShown) continue;
      files += ", <a href=\"" + RepoPageUrl(use.type, use.repo) + "\">" + Escape(use.repo) +
               "</a>/" + Escape(use.path);
    }
    if (named == 0) continue;
    items += "<li><code class=\"sha256\">" + Escape(blob.sha256) + "</code> " +
             std::string(registry::BlobStateName(blob.state)) + files + "</li>";
  }
  if (items.empty()) return html + "<p id=\"damaged\">No damaged content.</p></section>";
  return html + "<h3>Damaged content</h3><ul id=\"damaged\">" + items + "</ul></section>";
}

std::string VerifyJobs(const RequestContext& context) {
  std::string html = "<section id=\"verify-jobs\"><h2>Verification</h2>";
  if (context.jobs == nullptr) {
    return html +
           "<p>This server runs no scheduled verification; <code>hubmirror verify</code> "
           "re-hashes every stored blob.</p></section>";
  }
  std::string items;
  for (const auto& job : context.jobs->ListJobs()) {
    if (job.kind != api::JobKind::kVerify) continue;
    items += "<li>#" + std::to_string(job.id) + " " + std::string(api::JobStateName(job.state)) +
             ", started " + FormatTime(job.started_ms) + ", finished " +
             FormatTime(job.finished_ms);
    // Counts only: what a scrub found is named above, for the repos the reader may see.
    for (const auto& [key, value] : job.result.items()) {
      if (value.is_number()) items += ", " + Escape(key) + " " + value.dump();
    }
    items += "</li>";
  }
  if (items.empty()) {
    return html +
           "<p>No verification has run since the server started; the schedule is set "
           "by <code>[verify] interval</code>.</p></section>";
  }
  return html + "<ul>" + items + "</ul></section>";
}

Result<std::string> Manifests(const RequestContext& context) {
  std::string html =
      "<section id=\"manifests\"><h2>Signed manifests</h2><p>Each revision's manifest lists "
      "every file with its size and SHA-256, signed with the key above.</p>" +
      TableStart("manifest-table", {"Repo", "Ref", "Manifest"});
  size_t listed = 0;  // repos seen, one more than shown when there are more
  for (RepoType type : {RepoType::kModel, RepoType::kDataset}) {
    registry::RepoQuery query;
    query.type = type;
    query.viewer = context.caller.viewer();
    query.limit = static_cast<int64_t>(kReposShown + 1 - listed);
    auto repos = context.registry.ListRepos(query);
    if (!repos.ok()) return repos.status();
    for (const auto& repo : *repos) {
      if (++listed > kReposShown) break;
      auto refs = context.registry.ListRefs(repo);
      if (!refs.ok()) return refs.status();
      for (const auto& ref : *refs) {
        std::string manifest = "/api/integrity/" + std::string(RepoTypeName(type)) + "s/" +
                               PercentEncode(repo.name, true) + "/" + ref.commit_id;
        html += "<tr><td><a href=\"" + RepoPageUrl(type, repo.name) + "\">" + Escape(repo.name) +
                "</a></td><td>" + Escape(FullRefName(ref.ref_name())) + "</td><td><a href=\"" +
                Escape(manifest) + "\" download=\"" + Escape(ref.commit_id) + ".manifest.json\">" +
                Escape(ref.commit_id.substr(0, 12)) + "</a></td></tr>";
      }
    }
    if (listed > kReposShown) break;
  }
  html += kTableEnd;
  if (listed > kReposShown) {
    html += "<p class=\"meta\">The first " + std::to_string(kReposShown) +
            " repos are listed; every repo's page links its own manifest.</p>";
  }
  return html + "</section>";
}

}  // namespace

Response IntegrityPage(const RequestContext& context) {
  auto states = BlobStates(context);
  auto manifests = Manifests(context);
  Status failed = !states.ok() ? states.status() : manifests.status();
  if (!failed.ok())
    return ErrorPage(context, http::status::internal_server_error, failed.message());
  std::string html = PageStart(context, "Integrity", "integrity");
  html += "<h1>Integrity</h1><section id=\"signing-key\"><h2>Signing key</h2><p>Key id <code>" +
          Escape(context.signing_key.key_id()) +
          "</code>. <a href=\"/api/integrity/key\" download=\"hubmirror-key.pem\">Download the "
          "public key</a>.</p><pre tabindex=\"0\">" +
          Escape(context.signing_key.PublicPem()) + "</pre></section>";
  html += *states + VerifyJobs(context) + *manifests;
  html +=
      "<section id=\"check\"><h2>Check a download</h2><p>Offline, with nothing but the manifest "
      "and the key: every file is hashed and compared, and the signature checked.</p>"
      "<pre id=\"check-howto\" tabindex=\"0\">" +
      Escape("curl -o key.pem " + context.origin + "/api/integrity/key\ncurl -o manifest.json " +
             context.origin +
             "/api/integrity/models/ORG/NAME/COMMIT\nhubmirror check --manifest manifest.json "
             "--key key.pem ./downloaded-folder") +
      "</pre></section>" + PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
