#include "tools/flags/usage.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"

namespace kubegrpc::tools {

std::vector<char*> ParseFlags(int argc, char** argv, const std::string& usage) {
  absl::SetProgramUsageMessage(usage);
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--") == 0) break;
    if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-help") == 0 ||
        std::strcmp(a, "-h") == 0 || std::strcmp(a, "--helpfull") == 0) {
      std::cout << usage << "\n\nFlags:\n";
      std::vector<const absl::CommandLineFlag*> flags;
      for (const auto& [name, flag] : absl::GetAllFlags()) {
        // This program's own flags, not abseil's or a library's.
        const std::string file = flag->Filename();
        if (absl::StrContains(file, "absl/") || absl::StartsWith(file, "external/")) continue;
        flags.push_back(flag);
      }
      std::sort(flags.begin(), flags.end(),
                [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
      for (const absl::CommandLineFlag* flag : flags) {
        std::cout << "  --" << flag->Name() << "  " << flag->Help()
                  << " (default: " << (flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue())
                  << ")\n";
      }
      std::exit(0);
    }
  }
  return absl::ParseCommandLine(argc, argv);
}

std::string FromWorkingDirectory(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return path;
  return std::string(dir) + "/" + path;
}

}  // namespace kubegrpc::tools
