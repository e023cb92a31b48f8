// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins_validate: what QINS does to real trained models, in numbers and in the text they
// write (the same as `qins validate`).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

int main(int argc, char** argv) {
  qins_tools::ValidateArgs args;
  CLI::App app{
      "Converts every linear layer of models with each QINS configuration and with the formats it "
      "is "
      "compared with (float16, bfloat16, int8 absmax per row, llama.cpp's Q8_0), then reports "
      "memory, "
      "weight error, how far the next-token distributions move from float32 (KL divergence, top-1 "
      "agreement, cross-entropy, teacher-forced on sequences the float32 model wrote) and the text "
      "each "
      "configuration writes next to float32's.",
      "qins_validate"};
  qins_tools::add_validate(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qins_validate: %s (see --help)\n", e.what());
    return 2;
  }
  return qins_tools::guarded("qins_validate", [&] { return qins_tools::run_validate(args); });
}
