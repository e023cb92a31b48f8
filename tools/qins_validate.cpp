// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins_validate: what QINS does to real trained models, in numbers and in the text they write.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "report.hpp"
#include "validation.hpp"

#ifndef QINS_DEFAULT_MODELS_DIR
#define QINS_DEFAULT_MODELS_DIR "../shared/models"
#endif

int main(int argc, char** argv) {
  qins_tools::Options options;
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  bool json = false;
  std::string plot_dir;

  CLI::App app{
      "Converts every linear layer of llama2.c models with each QINS configuration and with the "
      "formats it is "
      "compared with (float16, bfloat16, int8 absmax per row, llama.cpp's Q8_0), then reports "
      "memory, weight "
      "error, how far the next-token distributions move from float32 (KL divergence, top-1 "
      "agreement, "
      "cross-entropy, teacher-forced on sequences the float32 model wrote) and the text each "
      "configuration "
      "writes next to float32's.",
      "qins_validate"};
  app.add_option("models", options.models,
                 "llama2.c checkpoints (default: $QINS_MODEL, else stories260K.bin and "
                 "babyllama105.bin from " +
                     std::string(QINS_DEFAULT_MODELS_DIR) + ")")
      ->check(CLI::ExistingFile);
  app.add_option(
         "--tokenizer", options.tokenizer,
         "tokenizer.bin (llama2.c layout) for every model; default: the one beside each model "
         "(tokenizer.bin, tok<V>.bin or tokenizer<V>.bin with V its vocabulary size); without one, "
         "text "
         "is shown as token ids")
      ->check(CLI::ExistingFile);
  app.add_option("--prompt", options.prompt,
                 "continue this text instead of starting from BOS (needs a tokenizer)");
  app.add_option("--tokens", options.tokens,
                 "new tokens per reference sequence, capped by each model's context")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--samples", options.samples, "reference sequences sampled at temperature 1")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--seed", options.seed, "seed of the first sampled sequence (then seed + 1, ...)")
      ->capture_default_str();
  app.add_option("--threads", options.threads,
                 "configurations measured at once (default: the cores)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--json", json, "print the report as JSON (schema in README.md) instead of text");
  app.add_option("--plot", plot_dir,
                 "write qins_error_vs_bits.svg and qins_kl_vs_bits.svg into this folder");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qins_validate: %s (see --help)\n", e.what());
    return 2;
  }

  if (options.models.empty()) {
    const char* env = std::getenv("QINS_MODEL");
    if (env && *env) {
      options.models = {env};
    } else {
      const std::string dir = QINS_DEFAULT_MODELS_DIR;
      options.models = {dir + "/stories260K.bin", dir + "/babyllama105.bin"};
    }
  }
  if (!plot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(plot_dir, ec);
    if (ec || !std::filesystem::is_directory(plot_dir)) {
      std::fprintf(stderr, "qins_validate: --plot '%s': cannot create the folder (%s)\n",
                   plot_dir.c_str(), ec ? ec.message().c_str() : "not a folder");
      return 2;
    }
  }

  try {
    const auto schemes = qins_tools::default_schemes();
    qins::ThreadPool pool(options.threads);
    const bool progress = isatty(fileno(stderr));
    std::vector<qins_tools::ModelReport> reports;
    for (const std::string& model : options.models) {
      if (progress)
        std::fprintf(stderr, "%s: %zu configurations...\n", model.c_str(), schemes.size());
      reports.push_back(qins_tools::validate_model(model, options, schemes, pool));
    }
    const auto synthetic = qins_tools::synthetic_comparison(schemes);
    if (json) {
      std::printf("%s\n", qins_tools::to_json(reports, synthetic).dump(1).c_str());
    } else {
      std::printf(
          "QINS validation: every linear layer of each model in each configuration, against "
          "float32\n");
      for (const auto& m : reports) qins_tools::print_model(stdout, m);
      qins_tools::print_synthetic(stdout, synthetic);
      qins_tools::print_verdicts(stdout);
    }
    if (!plot_dir.empty())
      for (const std::string& path : qins_tools::write_plots(plot_dir, reports))
        std::fprintf(stderr, "wrote %s\n", path.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (message.rfind("qins: ", 0) == 0) message.erase(0, 6);  // qins::Error's own prefix
    std::fprintf(stderr, "qins_validate: %s\n", message.c_str());
    return 1;
  }
}
