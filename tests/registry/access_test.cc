#include <catch2/catch.hpp>

#include "common/digest.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

std::vector<std::string> RepoNames(Registry& registry, const Viewer& viewer) {
  RepoQuery query;
  query.viewer = viewer;
  auto repos = registry.ListRepos(query);
  REQUIRE(repos.ok());
  std::vector<std::string> names;
  for (const auto& repo : *repos) names.push_back(repo.name);
  return names;
}

void Publish(Registry& registry, const std::string& repo, RepoType type = RepoType::kModel) {
  NewRevision revision = Revision(repo, std::string(40, 'c'), "", {});
  revision.type = type;
  REQUIRE(registry.PublishRevision(revision).ok());
}

// The upstream's flags of a repo, as a sync records them.
void SetUpstreamFlags(Registry& registry, const std::string& repo, bool is_private,
                      const std::string& gated) {
  RepoDetails details;
  details.is_private = is_private;
  details.gated = gated;
  REQUIRE(registry.UpdateRepoDetails(RepoType::kModel, repo, details).ok());
}

Status SetPrivate(Registry& registry, const std::string& repo, bool is_private) {
  RepoAccessSettings settings;
  settings.is_private = is_private;
  return registry.SetAccessSettings(RepoType::kModel, repo, settings);
}

void AddUsers(Registry& registry, std::initializer_list<const char*> names) {
  for (const char* name : names) REQUIRE(registry.AddUser(name, false, false).ok());
}

int64_t UserIdOf(Registry& registry, const std::string& name) {
  auto user = registry.FindUser(name);
  REQUIRE(user.ok());
  return user->id;
}

TEST_CASE("users and organizations share one set of names, matched case-insensitively",
          "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  REQUIRE(registry->AddUser("Alice", false, false).ok());
  REQUIRE(registry->AddOrg("acme").ok());
  CHECK(registry->AddUser("alice", false, false).code() == StatusCode::kAlreadyExists);
  CHECK(registry->AddOrg("ALICE").code() == StatusCode::kAlreadyExists);
  CHECK(registry->AddUser("Acme", false, false).code() == StatusCode::kAlreadyExists);
  CHECK(registry->AddOrg("acme").code() == StatusCode::kAlreadyExists);
  for (const auto& bad :
       std::vector<std::string>{"", "a/b", "-x", "a b", "a..b", "a--b", std::string(97, 'a')}) {
    INFO(bad);
    CHECK(registry->AddUser(bad, false, false).code() == StatusCode::kInvalidArgument);
    CHECK(registry->AddOrg(bad).code() == StatusCode::kInvalidArgument);
  }
  REQUIRE(registry->AddUser("ci-bot", false, true).ok());
  REQUIRE(registry->AddUser("root", true, false).ok());

  auto alice = registry->FindUser("ALICE");
  REQUIRE(alice.ok());
  CHECK(alice->name == "Alice");
  CHECK_FALSE(alice->is_admin);
  CHECK(alice->created_at_ms > 0);
  CHECK(registry->FindUser("acme").status().code() == StatusCode::kNotFound);

  auto users = registry->ListUsers();
  REQUIRE(users.ok());
  REQUIRE(users->size() == 3);
  CHECK((*users)[0].name == "Alice");
  CHECK((*users)[1].name == "ci-bot");
  CHECK((*users)[1].is_robot);
  CHECK((*users)[2].name == "root");
  CHECK((*users)[2].is_admin);

  REQUIRE(registry->RemoveUser("alice").ok());
  CHECK(registry->RemoveUser("alice").code() == StatusCode::kNotFound);
  CHECK(registry->FindUser("Alice").status().code() == StatusCode::kNotFound);
  // The name is free again, for a user or an organization.
  CHECK(registry->AddOrg("alice").ok());
}

TEST_CASE("organization members have one role each", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  AddUsers(*registry, {"alice", "bob"});
  REQUIRE(registry->AddOrg("acme").ok());
  REQUIRE(registry->AddOrg("empty").ok());
  REQUIRE(registry->SetOrgMember("acme", "alice", OrgRole::kWrite).ok());
  REQUIRE(registry->SetOrgMember("ACME", "Bob", OrgRole::kRead).ok());
  REQUIRE(registry->SetOrgMember("acme", "alice", OrgRole::kAdmin).ok());
  CHECK(registry->SetOrgMember("nope", "alice", OrgRole::kRead).code() == StatusCode::kNotFound);
  CHECK(registry->SetOrgMember("acme", "nope", OrgRole::kRead).code() == StatusCode::kNotFound);
  // An organization is not a user, nor a user an organization.
  CHECK(registry->SetOrgMember("alice", "bob", OrgRole::kRead).code() == StatusCode::kNotFound);
  CHECK(registry->SetOrgMember("acme", "empty", OrgRole::kRead).code() == StatusCode::kNotFound);

  auto orgs = registry->ListOrgs();
  REQUIRE(orgs.ok());
  REQUIRE(orgs->size() == 2);
  CHECK((*orgs)[0].name == "acme");
  REQUIRE((*orgs)[0].members.size() == 2);
  CHECK((*orgs)[0].members[0].user == "alice");
  CHECK((*orgs)[0].members[0].role == OrgRole::kAdmin);
  CHECK((*orgs)[0].members[1].user == "bob");
  CHECK((*orgs)[0].members[1].role == OrgRole::kRead);
  CHECK((*orgs)[1].name == "empty");
  CHECK((*orgs)[1].members.empty());

  REQUIRE(registry->RemoveOrgMember("acme", "BOB").ok());
  CHECK(registry->RemoveOrgMember("acme", "bob").code() == StatusCode::kNotFound);
  // Removing a user removes their memberships.
  REQUIRE(registry->RemoveUser("alice").ok());
  orgs = registry->ListOrgs();
  REQUIRE(orgs.ok());
  CHECK((*orgs)[0].members.empty());
}

TEST_CASE("role, scope and status names round-trip", "[access]") {
  for (OrgRole role : {OrgRole::kRead, OrgRole::kWrite, OrgRole::kAdmin}) {
    OrgRole parsed = OrgRole::kRead;
    REQUIRE(ParseOrgRole(OrgRoleName(role), &parsed));
    CHECK(parsed == role);
  }
  CHECK(OrgRoleName(OrgRole::kWrite) == "write");
  TokenScope scope = TokenScope::kRead;
  REQUIRE(ParseTokenScope("write", &scope));
  CHECK(scope == TokenScope::kWrite);
  CHECK(TokenScopeName(TokenScope::kRead) == "read");
  AccessStatus status = AccessStatus::kPending;
  REQUIRE(ParseAccessStatus("rejected", &status));
  CHECK(status == AccessStatus::kRejected);
  CHECK(AccessStatusName(AccessStatus::kAccepted) == "accepted");
  OrgRole role = OrgRole::kRead;
  CHECK_FALSE(ParseOrgRole("owner", &role));
  CHECK_FALSE(ParseTokenScope("admin", &scope));
  CHECK_FALSE(ParseAccessStatus("Accepted", &status));
}

TEST_CASE("tokens identify their user until revoked or expired", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  AddUsers(*registry, {"alice", "bob"});
  REQUIRE(registry->AddOrg("acme").ok());
  REQUIRE(registry->AddOrg("beta").ok());
  REQUIRE(registry->SetOrgMember("beta", "alice", OrgRole::kWrite).ok());
  REQUIRE(registry->SetOrgMember("acme", "alice", OrgRole::kRead).ok());
  const std::string laptop = Sha256Hex("hf_laptop"), ci = Sha256Hex("hf_ci");
  const int64_t expiry = 2000000000000;
  REQUIRE(registry->AddToken("Alice", "laptop", laptop, TokenScope::kWrite, 0).ok());
  REQUIRE(registry->AddToken("alice", "ci", ci, TokenScope::kRead, expiry).ok());
  REQUIRE(registry->AddToken("bob", "laptop", Sha256Hex("hf_bob"), TokenScope::kRead, 0).ok());
  CHECK(registry->AddToken("alice", "laptop", Sha256Hex("x"), TokenScope::kRead, 0).code() ==
        StatusCode::kAlreadyExists);
  CHECK(registry->AddToken("carol", "laptop", Sha256Hex("y"), TokenScope::kRead, 0).code() ==
        StatusCode::kNotFound);
  CHECK(registry->AddToken("alice", "other", "hf_secret", TokenScope::kRead, 0).code() ==
        StatusCode::kInvalidArgument);
  CHECK(registry->AddToken("alice", "", Sha256Hex("z"), TokenScope::kRead, 0).code() ==
        StatusCode::kInvalidArgument);
  CHECK(registry->AddToken("alice", "a\nb", Sha256Hex("z"), TokenScope::kRead, 0).code() ==
        StatusCode::kInvalidArgument);

  const int64_t now = 1700000000000;
  auto principal = registry->FindPrincipal(laptop, now);
  REQUIRE(principal.ok());
  REQUIRE(principal->has_value());
  const Principal& p = **principal;
  CHECK(p.user.name == "alice");
  CHECK(p.token.name == "laptop");
  CHECK(p.token.user == "alice");
  CHECK(p.token.scope == TokenScope::kWrite);
  CHECK(p.token.expires_at_ms == 0);
  CHECK(p.orgs == std::vector<std::pair<std::string, OrgRole>>{{"acme", OrgRole::kRead},
                                                               {"beta", OrgRole::kWrite}});
  auto unknown = registry->FindPrincipal(Sha256Hex("hf_guess"), now);
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());
  // A token of a user in no organization.
  auto bob = registry->FindPrincipal(Sha256Hex("hf_bob"), now);
  REQUIRE(bob.ok());
  REQUIRE(bob->has_value());
  CHECK((*bob)->orgs.empty());

  // Expiry is judged at the time asked about.
  CHECK(registry->FindPrincipal(ci, expiry - 1)->has_value());
  CHECK_FALSE(registry->FindPrincipal(ci, expiry)->has_value());

  REQUIRE(registry->RevokeToken("alice", "laptop").ok());
  CHECK_FALSE(registry->FindPrincipal(laptop, now)->has_value());
  CHECK(registry->RevokeToken("alice", "nope").code() == StatusCode::kNotFound);
  CHECK(registry->RevokeToken("carol", "laptop").code() == StatusCode::kNotFound);
  // A revoked token's name stays taken.
  CHECK(registry->AddToken("alice", "laptop", Sha256Hex("again"), TokenScope::kRead, 0).code() ==
        StatusCode::kAlreadyExists);

  auto all = registry->ListTokens("");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].user == "alice");
  CHECK((*all)[0].name == "ci");
  CHECK((*all)[0].expires_at_ms == expiry);
  CHECK((*all)[1].name == "laptop");
  CHECK((*all)[1].revoked_at_ms > 0);
  CHECK((*all)[2].user == "bob");
  auto bobs = registry->ListTokens("BOB");
  REQUIRE(bobs.ok());
  REQUIRE(bobs->size() == 1);
  CHECK((*bobs)[0].revoked_at_ms == 0);
  CHECK(registry->ListTokens("carol").status().code() == StatusCode::kNotFound);

  // Removing a user removes their tokens.
  REQUIRE(registry->RemoveUser("alice").ok());
  CHECK(registry->ListTokens("")->size() == 1);
  CHECK_FALSE(registry->FindPrincipal(ci, now)->has_value());
}

TEST_CASE("a read-only connection sees a revocation or a grant on its next call", "[access]") {
  TempDir dir;
  auto writer = OpenRegistry(dir);
  AddUsers(*writer, {"alice"});
  Publish(*writer, "acme/gated");
  const std::string secret = Sha256Hex("hf_alice"), expiring = Sha256Hex("hf_soon");
  const int64_t now = 1700000000000, expiry = now + 1000;
  REQUIRE(writer->AddToken("alice", "laptop", secret, TokenScope::kRead, 0).ok());
  REQUIRE(writer->AddToken("alice", "soon", expiring, TokenScope::kRead, expiry).ok());
  auto opened = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  REQUIRE(opened.ok());
  Registry& reader = **opened;
  auto repo = reader.FindRepo(RepoType::kModel, "acme/gated");
  REQUIRE(repo.ok());
  const int64_t alice = UserIdOf(reader, "alice");

  CHECK(reader.FindPrincipal(secret, now)->has_value());
  CHECK(reader.FindPrincipal(expiring, now)->has_value());
  CHECK_FALSE(*reader.HasAccess(*repo, alice));
  CHECK_FALSE(*reader.HasAccess(*repo, 0));
  // A write that bypasses the registry (and so its change counter) goes unseen: the answers are
  // the remembered ones.
  ExecSql(dir / "registry.db", "UPDATE tokens SET revoked_at = 1");
  ExecSql(dir / "registry.db",
          "INSERT INTO access_requests (repo_id, user_id, status, requested_at) VALUES (" +
              std::to_string(repo->id) + ", " + std::to_string(alice) + ", 'accepted', 1)");
  CHECK(reader.FindPrincipal(secret, now)->has_value());
  CHECK_FALSE(*reader.HasAccess(*repo, alice));
  // A remembered token still expires on time.
  CHECK(reader.FindPrincipal(expiring, expiry - 1)->has_value());
  CHECK_FALSE(reader.FindPrincipal(expiring, expiry)->has_value());

  // Any commit through a registry is seen by the next call.
  REQUIRE(writer->RemoveAccess(RepoType::kModel, "acme/gated", "alice").ok());
  REQUIRE(writer
              ->DecideAccess(RepoType::kModel, "acme/gated", "alice", AccessStatus::kAccepted,
                             "root", "")
              .ok());
  CHECK_FALSE(reader.FindPrincipal(secret, now)->has_value());
  CHECK(*reader.HasAccess(*repo, alice));
  REQUIRE(writer
              ->DecideAccess(RepoType::kModel, "acme/gated", "alice", AccessStatus::kRejected,
                             "root", "no")
              .ok());
  CHECK_FALSE(*reader.HasAccess(*repo, alice));
}

TEST_CASE("the operator's settings override the upstream's flags and survive syncs", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  const std::string c(40, 'c');
  REQUIRE(registry->PublishRevision(Revision("acme/m", c, "", {File("a", "v1", c)})).ok());
  SetUpstreamFlags(*registry, "acme/m", true, "manual");
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(repo->is_private);
  CHECK(repo->gated == "manual");
  auto settings = registry->AccessSettings(RepoType::kModel, "ACME/M");
  REQUIRE(settings.ok());
  CHECK_FALSE(settings->is_private.has_value());
  CHECK_FALSE(settings->gated.has_value());

  REQUIRE(SetPrivate(*registry, "acme/m", false).ok());
  repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK_FALSE(repo->is_private);
  CHECK(repo->gated == "manual");
  RepoAccessSettings gated;
  gated.gated = "auto";
  REQUIRE(registry->SetAccessSettings(RepoType::kModel, "acme/m", gated).ok());
  repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK_FALSE(repo->is_private);  // an unset field keeps its value
  CHECK(repo->gated == "auto");

  // A sync refreshes the upstream's flags only.
  SetUpstreamFlags(*registry, "acme/m", true, "false");
  repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK_FALSE(repo->is_private);
  CHECK(repo->gated == "auto");
  settings = registry->AccessSettings(RepoType::kModel, "acme/m");
  REQUIRE(settings.ok());
  CHECK(settings->is_private == std::optional<bool>(false));
  CHECK(settings->gated == std::optional<std::string>("auto"));
  // Listings and downloads report the flags in force too.
  auto listed = registry->ListRepos(RepoQuery{});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].gated == "auto");
  for (const char* path : {"a", "missing"}) {
    INFO(path);
    auto file = registry->ResolveFile(RepoType::kModel, "ACME/M", "main", path);
    REQUIRE(file.ok());
    CHECK(file->entry.has_value() == (path == std::string("a")));
    CHECK(file->repo.id == repo->id);
    CHECK(file->repo.type == RepoType::kModel);
    CHECK(file->repo.name == "acme/m");
    CHECK(file->repo.author == "acme");
    CHECK_FALSE(file->repo.is_private);
    CHECK(file->repo.gated == "auto");
  }

  gated.gated = "yes";
  CHECK(registry->SetAccessSettings(RepoType::kModel, "acme/m", gated).code() ==
        StatusCode::kInvalidArgument);
  CHECK(SetPrivate(*registry, "acme/none", true).code() == StatusCode::kRepoNotFound);
  CHECK(registry->AccessSettings(RepoType::kDataset, "acme/m").status().code() ==
        StatusCode::kRepoNotFound);
}

TEST_CASE("private repos are listed only for those who may read them", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  AddUsers(*registry, {"alice", "bob", "carol"});
  REQUIRE(registry->AddOrg("acme").ok());
  REQUIRE(registry->SetOrgMember("acme", "bob", OrgRole::kRead).ok());
  for (const char* repo : {"acme/public", "Acme/secret", "alice/own", "other/granted"}) {
    Publish(*registry, repo);
  }
  REQUIRE(SetPrivate(*registry, "acme/secret", true).ok());
  SetUpstreamFlags(*registry, "alice/own", true, "false");
  SetUpstreamFlags(*registry, "other/granted", true, "false");
  REQUIRE(registry
              ->DecideAccess(RepoType::kModel, "other/granted", "carol", AccessStatus::kAccepted,
                             "root", "")
              .ok());
  // Neither a pending request nor a rejected one shows a private repo.
  REQUIRE(registry->RequestAccess(RepoType::kModel, "other/granted", "alice", "", false).ok());
  REQUIRE(registry
              ->DecideAccess(RepoType::kModel, "other/granted", "bob", AccessStatus::kRejected,
                             "root", "no")
              .ok());

  Viewer anonymous;
  CHECK(RepoNames(*registry, anonymous) == std::vector<std::string>{"acme/public"});
  Viewer alice;
  alice.user_id = UserIdOf(*registry, "alice");
  alice.user_name = "ALICE";
  CHECK(RepoNames(*registry, alice) == std::vector<std::string>{"acme/public", "alice/own"});
  Viewer bob;
  bob.user_id = UserIdOf(*registry, "bob");
  bob.user_name = "bob";
  bob.orgs = {"acme"};
  CHECK(RepoNames(*registry, bob) == std::vector<std::string>{"acme/public", "Acme/secret"});
  Viewer carol;
  carol.user_id = UserIdOf(*registry, "carol");
  carol.user_name = "carol";
  CHECK(RepoNames(*registry, carol) == std::vector<std::string>{"acme/public", "other/granted"});
  Viewer admin;
  admin.is_admin = true;
  admin.user_id = carol.user_id;
  const std::vector<std::string> all = {"acme/public", "Acme/secret", "alice/own", "other/granted"};
  CHECK(RepoNames(*registry, admin) == all);
  CHECK(RepoNames(*registry, Viewer::Everything()) == all);

  // Filters and paging apply to what the viewer may see.
  RepoQuery query;
  query.viewer = bob;
  query.author = "acme";
  query.offset = 1;
  auto paged = registry->ListRepos(query);
  REQUIRE(paged.ok());
  REQUIRE(paged->size() == 1);
  CHECK((*paged)[0].name == "Acme/secret");
}

TEST_CASE("access requests are accepted at once or wait for a decision", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  AddUsers(*registry, {"alice", "bob", "carol", "dave"});
  Publish(*registry, "acme/m");
  const auto kModel = RepoType::kModel;

  auto pending = registry->RequestAccess(kModel, "acme/m", "alice", "I agree to v1", false);
  REQUIRE(pending.ok());
  CHECK(pending->user == "alice");
  CHECK(pending->status == AccessStatus::kPending);
  CHECK(pending->terms == "I agree to v1");
  CHECK(pending->requested_at_ms > 0);
  CHECK(pending->decided_at_ms == 0);
  CHECK(pending->decided_by.empty());
  // Asking again while pending changes nothing.
  auto again = registry->RequestAccess(kModel, "acme/m", "alice", "other terms", false);
  REQUIRE(again.ok());
  CHECK(again->status == AccessStatus::kPending);
  CHECK(again->terms == "I agree to v1");

  auto automatic = registry->RequestAccess(kModel, "ACME/M", "Bob", "terms", true);
  REQUIRE(automatic.ok());
  CHECK(automatic->user == "bob");
  CHECK(automatic->status == AccessStatus::kAccepted);
  CHECK(automatic->decided_by == "hubmirror");
  CHECK(automatic->decided_at_ms > 0);

  REQUIRE(registry->RequestAccess(kModel, "acme/m", "carol", "terms", false).ok());
  REQUIRE(registry->DecideAccess(kModel, "acme/m", "carol", AccessStatus::kRejected, "root", "spam")
              .ok());
  // A decided request stays decided, even for a repo that now accepts at once.
  auto decided = registry->RequestAccess(kModel, "acme/m", "carol", "terms", true);
  REQUIRE(decided.ok());
  CHECK(decided->status == AccessStatus::kRejected);
  CHECK(decided->reason == "spam");
  CHECK(decided->decided_by == "root");
  // A pending one is accepted when asked again once the repo accepts at once.
  auto accepted = registry->RequestAccess(kModel, "acme/m", "alice", "I agree to v2", true);
  REQUIRE(accepted.ok());
  CHECK(accepted->status == AccessStatus::kAccepted);
  CHECK(accepted->terms == "I agree to v2");
  CHECK(accepted->requested_at_ms == pending->requested_at_ms);

  // A decision without a request is a grant.
  REQUIRE(
      registry->DecideAccess(kModel, "acme/m", "dave", AccessStatus::kAccepted, "root", "").ok());
  CHECK(
      registry->DecideAccess(kModel, "acme/m", "dave", AccessStatus::kPending, "root", "").code() ==
      StatusCode::kInvalidArgument);

  auto all = registry->ListAccessRequests(kModel, "acme/m", std::nullopt);
  REQUIRE(all.ok());
  CHECK(all->size() == 4);
  auto rejected = registry->ListAccessRequests(kModel, "acme/m", AccessStatus::kRejected);
  REQUIRE(rejected.ok());
  REQUIRE(rejected->size() == 1);
  CHECK((*rejected)[0].user == "carol");
  auto granted = registry->ListAccessRequests(kModel, "acme/m", AccessStatus::kAccepted);
  REQUIRE(granted.ok());
  CHECK(granted->size() == 3);
  CHECK(registry->ListAccessRequests(kModel, "acme/m", AccessStatus::kPending)->empty());

  auto repo = registry->FindRepo(kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(*registry->HasAccess(*repo, UserIdOf(*registry, "dave")));
  CHECK_FALSE(*registry->HasAccess(*repo, UserIdOf(*registry, "carol")));
  REQUIRE(registry->RemoveAccess(kModel, "acme/m", "dave").ok());
  CHECK_FALSE(*registry->HasAccess(*repo, UserIdOf(*registry, "dave")));
  CHECK(registry->RemoveAccess(kModel, "acme/m", "dave").code() == StatusCode::kNotFound);
  // Removing a user removes their requests.
  REQUIRE(registry->RemoveUser("bob").ok());
  CHECK(registry->ListAccessRequests(kModel, "acme/m", std::nullopt)->size() == 2);

  CHECK(registry->RequestAccess(kModel, "acme/x", "alice", "", false).status().code() ==
        StatusCode::kRepoNotFound);
  CHECK(registry->RequestAccess(kModel, "acme/m", "eve", "", false).status().code() ==
        StatusCode::kNotFound);
  CHECK(registry->DecideAccess(kModel, "acme/x", "alice", AccessStatus::kAccepted, "root", "")
            .code() == StatusCode::kRepoNotFound);
  CHECK(
      registry->DecideAccess(kModel, "acme/m", "eve", AccessStatus::kAccepted, "root", "").code() ==
      StatusCode::kNotFound);
  CHECK(registry->RemoveAccess(RepoType::kDataset, "acme/m", "alice").code() ==
        StatusCode::kRepoNotFound);
  CHECK(registry->ListAccessRequests(kModel, "acme/x", std::nullopt).status().code() ==
        StatusCode::kRepoNotFound);
}

TEST_CASE("the audit log is append-only and read by time", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  auto event = [](int64_t at, const std::string& action) {
    return AuditEvent{0, at, "alice", action, "model acme/m", "ok", "127.0.0.1", "{}"};
  };
  REQUIRE(registry->RecordAudit(event(3000, "access.grant")).ok());
  REQUIRE(registry->RecordAudit(event(1000, "token.create")).ok());
  REQUIRE(registry->RecordAudit(event(2000, "access.request")).ok());
  REQUIRE(registry->RecordAudit(event(0, "settings.change")).ok());

  auto all = registry->ListAudit(0, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  CHECK((*all)[0].action == "token.create");
  CHECK((*all)[0].at_ms == 1000);
  CHECK((*all)[0].actor == "alice");
  CHECK((*all)[0].target == "model acme/m");
  CHECK((*all)[0].outcome == "ok");
  CHECK((*all)[0].address == "127.0.0.1");
  CHECK((*all)[0].detail == "{}");
  CHECK((*all)[1].action == "access.request");
  CHECK((*all)[2].action == "access.grant");
  // An event recorded without a time gets the current one.
  CHECK((*all)[3].action == "settings.change");
  CHECK((*all)[3].at_ms > 1700000000000);
  CHECK((*all)[0].id > (*all)[2].id);  // ids follow recording

  auto since = registry->ListAudit(2000, 100);
  REQUIRE(since.ok());
  REQUIRE(since->size() == 3);
  CHECK((*since)[0].action == "access.request");
  auto limited = registry->ListAudit(0, 2);
  REQUIRE(limited.ok());
  REQUIRE(limited->size() == 2);
  CHECK((*limited)[1].action == "access.request");

  CHECK_THAT(ExecSqlError(dir / "registry.db", "UPDATE audit_events SET actor = 'mallory'"),
             Catch::Contains("append-only"));
  CHECK_THAT(ExecSqlError(dir / "registry.db", "DELETE FROM audit_events"),
             Catch::Contains("append-only"));
  all = registry->ListAudit(0, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  CHECK((*all)[0].actor == "alice");
}

TEST_CASE("the models private here are listed by id for lineage answers", "[access]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  for (const char* repo :
       {"acme/Public", "acme/Upstream-Private", "acme/Set-Private", "acme/unset-private"}) {
    Publish(*registry, repo);
  }
  Publish(*registry, "acme/private-data", RepoType::kDataset);
  SetUpstreamFlags(*registry, "acme/Upstream-Private", true, "false");
  SetUpstreamFlags(*registry, "acme/unset-private", true, "false");
  REQUIRE(SetPrivate(*registry, "acme/Set-Private", true).ok());
  REQUIRE(SetPrivate(*registry, "acme/unset-private", false).ok());
  RepoAccessSettings dataset_private;
  dataset_private.is_private = true;
  REQUIRE(
      registry->SetAccessSettings(RepoType::kDataset, "acme/private-data", dataset_private).ok());
  auto ids = registry->PrivateModelIds();
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{"acme/set-private", "acme/upstream-private"});
}

}  // namespace
}  // namespace hubmirror::registry::testing
