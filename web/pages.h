#pragma once

#include <memory>

#include "api/web_pages.h"

namespace hubmirror::web {

// The web UI that `serve` shows at `/` and `/-/` (see api::WebPages): the list of models and
// datasets, a repo's page, its lineage drawn, the mirror's status, its integrity, sign-in and
// the administration pages. Keeps nothing of its own but the lineage pictures it drew (see
// lineage_drawing.h); thread-safe.
std::shared_ptr<api::WebPages> MakeWebPages();

}  // namespace hubmirror::web
