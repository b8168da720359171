// The list of models or datasets: search, filters, sort and pages (`/`, `/-/models`,
// `/-/datasets`).
#include <map>
#include <set>

#include "common/clock.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

constexpr int64_t kPerPage = 50;

// Where a repo's content comes from: a mirror rule or `sync`, pull-through, or this server
// (imported or published).
enum class Source { kMirrored, kPulled, kLocal };

// Each source's value in the `source` filter and its label on a badge, in Source's order.
struct SourceNames {
  std::string_view key;
  std::string_view label;
};
constexpr SourceNames kSourceNames[] = {
    {"mirrored", "mirrored"}, {"pulled", "pulled through"}, {"local", "local"}};

const SourceNames& NamesOf(Source source) { return kSourceNames[static_cast<int>(source)]; }

struct Filters {
  std::string q, task, library, base_model, gated, source, sort;
  int64_t page = 1;
};

Filters ReadFilters(const RequestContext& context) {
  Filters filters{PageParam(context, "q"),       PageParam(context, "task"),
                  PageParam(context, "library"), PageParam(context, "base_model"),
                  PageParam(context, "gated"),   PageParam(context, "source"),
                  PageParam(context, "sort")};
  if (filters.sort != "lastModified" && filters.sort != "downloads" && filters.sort != "likes") {
    filters.sort = "id";
  }
  filters.page = PageNumber(context, "page");
  return filters;
}

// The page's address with the filters, at page `page`.
std::string ListUrl(RepoType type, const Filters& filters, int64_t page) {
  std::string url = type == RepoType::kDataset ? "/-/datasets?" : "/-/models?";
  auto add = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) url += std::string(key) + "=" + QueryValueText(value) + "&";
  };
  add("q", filters.q);
  add("task", filters.task);
  add("library", filters.library);
  add("base_model", filters.base_model);
  add("gated", filters.gated);
  add("source", filters.source);
  if (filters.sort != "id") add("sort", filters.sort);
  url += "page=" + std::to_string(page);
  return url;
}

std::string Select(std::string_view name, std::string_view label, const std::string& current,
                   const std::vector<std::pair<std::string, std::string>>& options) {
  std::string html =
      "<label>" + std::string(label) + " <select name=\"" + std::string(name) + "\">";
  for (const auto& [value, text] : options) {
    html += "<option value=\"" + Escape(value) + "\"" + (value == current ? " selected" : "") +
            ">" + Escape(text) + "</option>";
  }
  return html + "</select></label>";
}

std::string FilterForm(RepoType type, const Filters& filters, const std::set<std::string>& tasks,
                       const std::set<std::string>& libraries) {
  std::vector<std::pair<std::string, std::string>> task_options = {{"", "any"}};
  for (const auto& task : tasks) task_options.emplace_back(task, task);
  std::vector<std::pair<std::string, std::string>> library_options = {{"", "any"}};
  for (const auto& library : libraries) library_options.emplace_back(library, library);
  std::string html = "<form id=\"repo-filter\" role=\"search\" method=\"get\" action=\"" +
                     std::string(type == RepoType::kDataset ? "/-/datasets" : "/-/models") +
                     "\"><label class=\"search\">Search <input id=\"search\" name=\"q\" "
                     "type=\"search\" autocomplete=\"off\" value=\"" +
                     Escape(filters.q) + "\" placeholder=\"organization/name\"></label>";
  html += Select("task", "Task", filters.task, task_options);
  html += Select("library", "Library", filters.library, library_options);
  html += "<label>Base model <input name=\"base_model\" value=\"" + Escape(filters.base_model) +
          "\" placeholder=\"organization/name\"></label>";
  html += Select("gated", "Gated", filters.gated, {{"", "any"}, {"yes", "gated"}, {"no", "open"}});
  html += Select(
      "source", "Source", filters.source,
      {{"", "any"}, {"mirrored", "mirrored"}, {"pulled", "pulled through"}, {"local", "local"}});
  html += Select("sort", "Sort", filters.sort,
                 {{"id", "name"},
                  {"lastModified", "recently updated"},
                  {"downloads", "most downloads"},
                  {"likes", "most likes"}});
  return html + "<button type=\"submit\">Apply</button></form>";
}

std::string RepoItem(const registry::Repo& repo, Source source) {
  std::string html = "<li class=\"repo-item\"><a class=\"repo-link\" href=\"" +
                     RepoPageUrl(repo.type, repo.name) + "\">" + Escape(repo.name) +
                     "</a><span class=\"badges\">";
  auto badge = [&](std::string_view text, std::string_view kind) {
    html += "<span class=\"badge " + std::string(kind) + "\">" + Escape(text) + "</span>";
  };
  if (!repo.pipeline_tag.empty()) badge(repo.pipeline_tag, "task");
  if (!repo.library_name.empty()) badge(repo.library_name, "library");
  if (repo.gated != "false") badge("gated", "gated");
  if (repo.is_private) badge("private", "private");
  badge(NamesOf(source).label, "source");
  html += "</span><span class=\"meta\">updated " + FormatTime(repo.last_modified_ms);
  if (repo.downloads > 0) html += " · " + std::to_string(repo.downloads) + " downloads";
  return html + "</span></li>";
}

}  // namespace

Response ListPage(const RequestContext& context) {
  RepoType type = context.route.type;
  Filters filters = ReadFilters(context);
  registry::RepoQuery query;
  query.type = type;
  query.viewer = context.caller.viewer();
  query.sort = filters.sort;
  query.descending = filters.sort != "id";
  query.limit = 1'000'000;
  // Everything the caller may see, for the filters' choices; then what the filters keep.
  auto all = context.registry.ListRepos(query);
  if (!all.ok())
    return ErrorPage(context, http::status::internal_server_error, all.status().message());
  std::set<std::string> tasks;
  std::set<std::string> libraries;
  for (const auto& repo : *all) {
    if (!repo.pipeline_tag.empty()) tasks.insert(repo.pipeline_tag);
    if (!repo.library_name.empty()) libraries.insert(repo.library_name);
  }
  const std::vector<registry::Repo>* matching = &all.value();
  Result<std::vector<registry::Repo>> filtered = std::vector<registry::Repo>();
  if (!filters.q.empty() || !filters.task.empty() || !filters.library.empty() ||
      !filters.base_model.empty()) {
    if (!filters.q.empty()) query.search = {filters.q};
    for (const std::string* tag : {&filters.task, &filters.library}) {
      if (!tag->empty()) query.tags.push_back(*tag);
    }
    if (!filters.base_model.empty()) query.tags.push_back("base_model:" + filters.base_model);
    filtered = context.registry.ListRepos(query);
    if (!filtered.ok()) {
      return ErrorPage(context, http::status::internal_server_error, filtered.status().message());
    }
    matching = &filtered.value();
  }
  auto states = context.registry.ListSyncStates();
  if (!states.ok()) {
    return ErrorPage(context, http::status::internal_server_error, states.status().message());
  }
  std::map<std::string, Source> sources;  // lower-case id -> source, for this type
  for (const auto& state : *states) {
    if (state.type != type) continue;
    Source& source = sources.try_emplace(AsciiLower(state.repo), Source::kPulled).first->second;
    if (!state.pull_through) source = Source::kMirrored;
  }
  std::vector<std::pair<const registry::Repo*, Source>> shown;
  for (const auto& repo : *matching) {
    auto found = sources.find(AsciiLower(repo.name));
    Source source = found == sources.end() ? Source::kLocal : found->second;
    if (!filters.source.empty() && filters.source != NamesOf(source).key) continue;
    bool gated = repo.gated != "false";
    if ((filters.gated == "yes" && !gated) || (filters.gated == "no" && gated)) continue;
    shown.emplace_back(&repo, source);
  }
  int64_t total = static_cast<int64_t>(shown.size());
  int64_t pages = std::max<int64_t>(1, (total + kPerPage - 1) / kPerPage);
  int64_t page = std::min(filters.page, pages);
  std::string title = type == RepoType::kDataset ? "Datasets" : "Models";
  std::string html = PageStart(context, title, type == RepoType::kDataset ? "datasets" : "models");
  html += "<h1>" + title + "</h1>" + FilterForm(type, filters, tasks, libraries);
  html += "<div id=\"results\" aria-live=\"polite\"><p id=\"repo-count\">" + std::to_string(total) +
          (total == 1 ? " repo" : " repos") + "</p><ul id=\"repo-list\">";
  for (int64_t i = (page - 1) * kPerPage; i < std::min(total, page * kPerPage); ++i) {
    html += RepoItem(*shown[i].first, shown[i].second);
  }
  html += "</ul>";
  if (pages > 1) {
    html += "<nav class=\"pagination\" aria-label=\"Pages\">";
    if (page > 1)
      html +=
          "<a rel=\"prev\" href=\"" + Escape(ListUrl(type, filters, page - 1)) + "\">Previous</a>";
    html += "<span>page " + std::to_string(page) + " of " + std::to_string(pages) + "</span>";
    if (page < pages)
      html += "<a rel=\"next\" href=\"" + Escape(ListUrl(type, filters, page + 1)) + "\">Next</a>";
    html += "</nav>";
  }
  html += "</div>" + PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
