// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// qins: convert checkpoints to QINS models, run them, inspect files, validate, tokenize.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

namespace {
bool is_subcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->check_name(name)) return true;
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace qins_tools;
  CLI::App app{"QINS codec tools: compress a model's linear layers, run it, check what it keeps.",
               "qins"};
  app.require_subcommand(1);
  ConvertArgs convert;
  RunArgs run;
  InspectArgs inspect;
  ValidateArgs validate;
  TokenizeArgs tokenize;
  add_convert(
      *app.add_subcommand(
          "convert", "write a .qins model from a llama2.c, safetensors or Hugging Face checkpoint"),
      convert);
  add_run(*app.add_subcommand("run", "generate text with a model, printing it as it goes"), run);
  add_inspect(
      *app.add_subcommand(
          "inspect", "list the tensors of a .qins, .safetensors or llama2.c file and verify it"),
      inspect);
  add_validate(
      *app.add_subcommand(
          "validate",
          "measure every QINS configuration (and float16, bfloat16, int8, Q8_0) against float32"),
      validate);
  add_tokenize(*app.add_subcommand("tokenize", "print the token ids of a text (BOS first)"),
               tokenize);
  if (argc > 1 && argv[1][0] != '-' && !is_subcommand(app, argv[1])) {
    std::fprintf(
        stderr,
        "qins: unknown subcommand '%s': use convert, run, inspect, validate or tokenize (see "
        "qins --help)\n",
        argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qins: %s (see qins --help)\n", e.what());
    return 2;
  }
  return guarded("qins", [&] {
    if (app.got_subcommand("convert")) return run_convert(convert);
    if (app.got_subcommand("run")) return run_run(run);
    if (app.got_subcommand("inspect")) return run_inspect(inspect);
    if (app.got_subcommand("validate")) return run_validate(validate);
    return run_tokenize(tokenize);
  });
}
