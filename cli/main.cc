#include "cli/commands.h"

int main(int argc, char** argv) { return hubmirror::cli::RunCommandLine(argc, argv); }
