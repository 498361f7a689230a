// SPDX-License-Identifier: MIT
// Replays fuzz inputs without libFuzzer: each argument is a file or a directory of files, and
// every file is passed once to LLVMFuzzerTestOneInput. CTest runs it over tests/fuzz/corpus/<t>
// so the corpora also run in the ordinary (gcc, ASan) builds.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

bool read_file(const std::string &path, std::string &out) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

// Runs one file; returns false if it cannot be read.
bool run_file(const std::string &path) {
  std::string data;
  if (!read_file(path, data)) {
    std::fprintf(stderr, "%s: cannot read\n", path.c_str());
    return false;
  }
  // A copy of exactly the input's size, so ASan catches reads one past the end.
  std::vector<uint8_t> copy(data.begin(), data.end());
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  size_t files = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    struct stat st;
    if (stat(arg.c_str(), &st) != 0) {
      std::fprintf(stderr, "%s: no such file or directory\n", arg.c_str());
      ok = false;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      ok = run_file(arg) && ok;
      ++files;
      continue;
    }
    std::vector<std::string> names;
    if (DIR *d = opendir(arg.c_str())) {
      while (dirent *e = readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
      closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const std::string &n : names) {
      std::string path = arg + "/" + n;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      ok = run_file(path) && ok;
      ++files;
    }
  }
  std::fprintf(stderr, "replayed %zu inputs\n", files);
  if (files == 0) {
    std::fprintf(stderr, "no inputs found\n");
    return 1;
  }
  return ok ? 0 : 1;
}
