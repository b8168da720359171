#include "web/markdown.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>

#include <memory>
#include <mutex>
#include <vector>

#include "common/front_matter.h"
#include "common/url.h"

namespace hubmirror::web {
namespace {

struct NodeDeleter {
  void operator()(cmark_node* node) const { cmark_node_free(node); }
};
struct ParserDeleter {
  void operator()(cmark_parser* parser) const { cmark_parser_free(parser); }
};

constexpr const char* kExtensions[] = {"table", "strikethrough", "autolink", "tasklist"};

// Whether a URL names a scheme or another host ("https://", "//host"), rather than a path here.
bool IsAbsolute(std::string_view url) {
  if (url.starts_with("//")) return true;
  size_t colon = url.find(':');
  if (colon == std::string_view::npos) return false;
  size_t end = url.find_first_of("/?#");
  return end == std::string_view::npos || colon < end;
}

// A relative link of the card as an address of the revision's file; "" when it is not one
// (a fragment, a query, an absolute path, or one that leaves the repo).
std::string RevisionFileUrl(std::string_view url, const CardContext& context) {
  if (url.empty() || url.front() == '#' || url.front() == '?' || url.front() == '/' ||
      IsAbsolute(url)) {
    return "";
  }
  size_t end = url.find_first_of("?#");
  std::string_view path = url.substr(0, end);
  while (path.starts_with("./")) path.remove_prefix(2);
  if (path.empty() || path == "." || path.starts_with("../") || path == ".." ||
      path.find("/../") != std::string_view::npos || path.ends_with("/..")) {
    return "";
  }
  return context.file_base + PercentEncode(path, true);
}

// Replaces `image` by a link to its URL whose text is the image's alt text.
void ImageToLink(cmark_node* image, std::string_view url) {
  cmark_node* link = cmark_node_new(CMARK_NODE_LINK);
  cmark_node_set_url(link, std::string(url).c_str());
  while (cmark_node* child = cmark_node_first_child(image)) cmark_node_append_child(link, child);
  if (cmark_node_first_child(link) == nullptr) {
    cmark_node* text = cmark_node_new(CMARK_NODE_TEXT);
    cmark_node_set_literal(text, "image");
    cmark_node_append_child(link, text);
  }
  cmark_node_replace(image, link);
  cmark_node_free(image);
}

// Points the card's links and images where a page may follow or load them.
void RewriteUrls(cmark_node* document, const CardContext& context) {
  std::vector<cmark_node*> links;
  std::vector<cmark_node*> images;
  cmark_iter* iter = cmark_iter_new(document);
  for (cmark_event_type event = cmark_iter_next(iter); event != CMARK_EVENT_DONE;
       event = cmark_iter_next(iter)) {
    if (event != CMARK_EVENT_ENTER) continue;
    cmark_node* node = cmark_iter_get_node(iter);
    cmark_node_type type = cmark_node_get_type(node);
    if (type == CMARK_NODE_LINK) links.push_back(node);
    if (type == CMARK_NODE_IMAGE) images.push_back(node);
  }
  cmark_iter_free(iter);
  for (cmark_node* link : links) {
    const char* url = cmark_node_get_url(link);
    std::string file = RevisionFileUrl(url != nullptr ? url : "", context);
    if (!file.empty()) cmark_node_set_url(link, file.c_str());
  }
  for (cmark_node* image : images) {
    const char* url_text = cmark_node_get_url(image);
    std::string url = url_text != nullptr ? url_text : "";
    if (url.starts_with("data:")) continue;  // inline bytes load nothing (safe mode vets them)
    std::string file = RevisionFileUrl(url, context);
    if (!file.empty() && context.files_readable) {
      cmark_node_set_url(image, file.c_str());
    } else {
      ImageToLink(image, file.empty() ? url : file);
    }
  }
}

// Adds rel to every link the renderer wrote. Safe as a text replacement: in safe mode the
// renderer writes every '<' of the card's own text and attributes escaped, so "<a href=" only
// comes from the renderer itself.
std::string AddLinkRel(const std::string& html) {
  static constexpr std::string_view kOpen = "<a href=\"";
  static constexpr std::string_view kWithRel = "<a rel=\"noopener noreferrer nofollow\" href=\"";
  std::string out;
  out.reserve(html.size() + html.size() / 16);
  size_t from = 0;
  for (size_t at = html.find(kOpen); at != std::string::npos; at = html.find(kOpen, from)) {
    out.append(html, from, at - from);
    out += kWithRel;
    from = at + kOpen.size();
  }
  out.append(html, from);
  return out;
}

}  // namespace

std::string RenderCard(std::string_view readme, const CardContext& context) {
  static std::once_flag registered;
  std::call_once(registered, [] { cmark_gfm_core_extensions_ensure_registered(); });
  // cmark-gfm's inline parser switches process-wide character tables as extensions come and go
  // (its tables and autolinks): one card at a time.
  static std::mutex cmark_mutex;
  std::lock_guard<std::mutex> lock(cmark_mutex);
  if (auto split = SplitFrontMatter(readme)) readme = split->body;
  bool truncated = readme.size() > kMaxCardBytes;
  if (truncated) readme = readme.substr(0, kMaxCardBytes);
  // Safe mode (the default): raw HTML is omitted and dangerous URLs emptied.
  int options = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8;
  std::unique_ptr<cmark_parser, ParserDeleter> parser(cmark_parser_new(options));
  for (const char* name : kExtensions) {
    if (cmark_syntax_extension* extension = cmark_find_syntax_extension(name)) {
      cmark_parser_attach_syntax_extension(parser.get(), extension);
    }
  }
  cmark_parser_feed(parser.get(), readme.data(), readme.size());
  std::unique_ptr<cmark_node, NodeDeleter> document(cmark_parser_finish(parser.get()));
  if (document == nullptr) return "";
  RewriteUrls(document.get(), context);
  char* rendered =
      cmark_render_html(document.get(), options, cmark_parser_get_syntax_extensions(parser.get()));
  std::string html = AddLinkRel(rendered != nullptr ? rendered : "");
  free(rendered);
  if (truncated) html += "<p class=\"notice\">The card is longer than this page shows.</p>";
  return html;
}

}  // namespace hubmirror::web
