// Model cards are hostile input: what RenderCard makes of scripts, handlers, dangerous URLs,
// remote images and relative links.
#include "web/markdown.h"

#include <catch2/catch.hpp>

namespace hubmirror::web {
namespace {

const CardContext kReadable{"/acme/m/resolve/abc/", true};

TEST_CASE("raw HTML in a card is dropped, whatever it carries", "[markdown]") {
  std::string html = RenderCard(
      "# Card\n\n<script>alert(1)</script>\n\ntext <img src=x onerror=\"alert(2)\"> more\n\n"
      "<iframe src=\"http://evil.test\"></iframe>\n\n<a href=\"javascript:alert(3)\">a</a>\n",
      kReadable);
  CHECK_THAT(html, Catch::Contains("<h1>Card</h1>"));
  for (const char* banned : {"<script", "onerror", "<iframe", "javascript:", "<img"}) {
    INFO(banned);
    CHECK_THAT(html, !Catch::Contains(banned));
  }
}

TEST_CASE("dangerous link targets are emptied; links carry rel", "[markdown]") {
  std::string html = RenderCard(
      "[a](javascript:alert(1)) [b](vbscript:x) [c](data:text/html,<script>x</script>) "
      "[d](https://example.org/page) <https://example.org/auto>",
      kReadable);
  CHECK_THAT(html, !Catch::Contains("javascript:"));
  CHECK_THAT(html, !Catch::Contains("vbscript:"));
  CHECK_THAT(html, !Catch::Contains("data:text/html"));
  CHECK_THAT(html, Catch::Contains("<a rel=\"noopener noreferrer nofollow\" "
                                   "href=\"https://example.org/page\">d</a>"));
  CHECK_THAT(html, Catch::Contains("href=\"https://example.org/auto\""));
  CHECK_THAT(html, !Catch::Contains("<a href="));
}

TEST_CASE("images from another host become links; nothing remote is loaded", "[markdown]") {
  std::string html =
      RenderCard("![chart](https://cdn.example/chart.png) ![](//cdn.example/x.png)", kReadable);
  CHECK_THAT(html, !Catch::Contains("<img"));
  CHECK_THAT(html, Catch::Contains("href=\"https://cdn.example/chart.png\">chart</a>"));
  CHECK_THAT(html, Catch::Contains("href=\"//cdn.example/x.png\">image</a>"));
}

TEST_CASE("relative links and images point at the revision's files", "[markdown]") {
  std::string html =
      RenderCard("![logo](./assets/logo.png) [config](config.json#L1) [up](../other) [top](#usage)",
                 kReadable);
  CHECK_THAT(html, Catch::Contains("<img src=\"/acme/m/resolve/abc/assets/logo.png\""));
  CHECK_THAT(html, Catch::Contains("href=\"/acme/m/resolve/abc/config.json\">config</a>"));
  CHECK_THAT(html, Catch::Contains("href=\"../other\""));
  CHECK_THAT(html, Catch::Contains("href=\"#usage\""));
  // Without access to the files, even a relative image is a link rather than a refused request.
  std::string gated = RenderCard("![logo](logo.png)", {"/acme/m/resolve/abc/", false});
  CHECK_THAT(gated, !Catch::Contains("<img"));
  CHECK_THAT(gated, Catch::Contains("href=\"/acme/m/resolve/abc/logo.png\">logo</a>"));
}

TEST_CASE("front matter is left out; tables and long cards render", "[markdown]") {
  std::string html =
      RenderCard("---\nlicense: mit\nsecret: 1\n---\n| a | b |\n|---|---|\n| 1 | 2 |\n", kReadable);
  CHECK_THAT(html, !Catch::Contains("license"));
  CHECK_THAT(html, Catch::Contains("<table>"));
  std::string long_card(kMaxCardBytes + 10, 'x');
  CHECK_THAT(RenderCard(long_card, kReadable), Catch::Contains("longer than this page shows"));
}

TEST_CASE("escaped text stays text", "[markdown]") {
  std::string html =
      RenderCard("`<script>` and &lt;b&gt; and \"quotes\" <a href=\"x\">", kReadable);
  CHECK_THAT(html, Catch::Contains("<code>&lt;script&gt;</code>"));
  CHECK_THAT(html, !Catch::Contains("<script"));
  CHECK_THAT(html, !Catch::Contains("<a href=\"x\">"));
}

}  // namespace
}  // namespace hubmirror::web
