// The names of access values, as the registry stores them and clients and the CLI spell them.
#include "registry/access.h"

#include <array>

namespace hubmirror::registry {
namespace {

// Each enumeration's names are listed in the order of its enumerators.
template <typename Enum, size_t N>
bool ParseName(std::string_view text, const std::array<std::string_view, N>& names, Enum* value) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) {
      *value = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

constexpr std::array<std::string_view, 3> kOrgRoleNames = {"read", "write", "admin"};
constexpr std::array<std::string_view, 2> kTokenScopeNames = {"read", "write"};
constexpr std::array<std::string_view, 3> kAccessStatusNames = {"pending", "accepted", "rejected"};

}  // namespace

std::string_view OrgRoleName(OrgRole role) { return kOrgRoleNames[static_cast<size_t>(role)]; }

bool ParseOrgRole(std::string_view text, OrgRole* role) {
  return ParseName(text, kOrgRoleNames, role);
}

std::string_view TokenScopeName(TokenScope scope) {
  return kTokenScopeNames[static_cast<size_t>(scope)];
}

bool ParseTokenScope(std::string_view text, TokenScope* scope) {
  return ParseName(text, kTokenScopeNames, scope);
}

std::string_view AccessStatusName(AccessStatus status) {
  return kAccessStatusNames[static_cast<size_t>(status)];
}

bool ParseAccessStatus(std::string_view text, AccessStatus* status) {
  return ParseName(text, kAccessStatusNames, status);
}

}  // namespace hubmirror::registry
