// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Widths per layer for a KL budget (llama2/widths.hpp) on the genuine stories260K model:
// the plan keeps its promise when measured, narrows as the budget grows, and the model
// built from it (convert, convert_to_file) holds exactly the planned widths.
#include <catch2/catch.hpp>
#include <limits>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>
#include <qins/llama2/model_file.hpp>
#include <qins/llama2/sampler.hpp>
#include <qins/llama2/widths.hpp>
#include <string>
#include <vector>

#include "model_fixture.hpp"
#include "support.hpp"

namespace llama2 = qins::llama2;

namespace {

// Two short stories the float model samples: the calibration set of these tests.
const llama2::Reference& calibration(const llama2::Model& float_model) {
  static const llama2::Reference r = [&] {
    std::vector<llama2::Sequence> s;
    for (std::uint64_t seed : {7u, 8u})
      s.push_back(llama2::write_sequence(float_model, "sample", {1}, 48,
                                         llama2::Sampler(1.0f, 1.0f, seed)));
    return llama2::make_reference(float_model, std::move(s));
  }();
  return r;
}

std::size_t at_width(const llama2::WidthPlan& plan, std::size_t width) {
  std::size_t n = 0;
  for (const auto& l : plan.layers) n += l.choice == width;
  return n;
}

}  // namespace

TEST_CASE("a width plan stays within its KL budget and narrows as the budget grows",
          "[widths][llama2]") {
  const llama2::Model float_model(qins_test::checkpoint());
  const llama2::Reference& cal = calibration(float_model);
  llama2::ConvertOptions options;  // every layer, alpha per row
  std::size_t previous_bytes = 0;
  for (double budget : {1e-1, 1e-4, 1e-5}) {  // from loose to tight
    INFO("budget " << budget);
    const llama2::WidthPlan plan = llama2::plan_widths(float_model, cal, options, budget);
    REQUIRE(plan.layers.size() == 35);  // 5 blocks x 7 projections
    for (const auto& l : plan.layers) {
      // Bytes grow with the width; a layer alone costs more KL at 8 bits than at 12.
      CHECK(l.bytes[0] < l.bytes[1]);
      CHECK(l.bytes[1] < l.bytes[2]);
      CHECK(l.kl_alone[0] > l.kl_alone[1]);
      CHECK(l.kl_alone[2] == 0);
      CHECK(l.choice < 3);
    }
    // The measured mix keeps the promise, on the sequences it was planned on; a fresh
    // measurement of the plan as convert() builds it gives the same number.
    CHECK(plan.mixed.mean_kld <= budget);
    llama2::Model mixed = float_model;
    llama2::ConvertOptions with_widths = options;
    with_widths.code_types = plan.code_types();
    const llama2::ConversionReport report = llama2::convert(mixed, with_widths);
    CHECK(report.weight_bytes() == plan.bytes());
    for (std::size_t i = 0; i < plan.layers.size(); ++i)
      CHECK(report.layers[i].code_type == plan.layers[i].code_type());
    CHECK(llama2::compare_distributions(mixed, cal).mean_kld == plan.mixed.mean_kld);
    // A tighter budget never costs fewer bytes.
    if (previous_bytes != 0) CHECK(plan.bytes() >= previous_bytes);
    previous_bytes = plan.bytes();
    if (budget == 1e-1) CHECK(at_width(plan, 0) == 35);  // everything fits at 8 bits
    if (budget == 1e-5) CHECK(at_width(plan, 0) < 35 - 30);
  }
}

TEST_CASE("a budget below what 16-bit codes reach leaves every layer at 16 bits and says so",
          "[widths][llama2]") {
  const llama2::Model float_model(qins_test::checkpoint());
  const llama2::WidthPlan plan =
      llama2::plan_widths(float_model, calibration(float_model), {}, 1e-15);
  CHECK(at_width(plan, 2) == plan.layers.size());
  CHECK(plan.mixed.mean_kld > plan.max_kl);  // reported, not hidden
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()})
    CHECK_THROWS_AS(llama2::plan_widths(float_model, calibration(float_model), {}, bad),
                    qins::Error);
}

TEST_CASE("convert_to_file stores the planned width of each layer", "[widths][llama2][io]") {
  llama2::ConvertOptions options;
  options.code_types = {{"layers.0.wq", qins::CodeType::uint12},
                        {"layers.2.w2", qins::CodeType::uint16}};
  const std::string path = (qins_test::scratch_dir("widths", "file") / "mixed.qins").string();
  const auto source = llama2::Llama2cFile::open(qins_test::model_path());
  const llama2::ConversionReport report = llama2::convert_to_file(*source, path, options);
  const llama2::Model model = llama2::load_model(path);
  for (const auto& l : report.layers) {
    const qins::CodeType want = l.name == "layers.0.wq"   ? qins::CodeType::uint12
                                : l.name == "layers.2.w2" ? qins::CodeType::uint16
                                                          : qins::CodeType::uint8;
    INFO(l.name);
    CHECK(l.code_type == want);
  }
  CHECK(model.linear(0, llama2::LinearKind::wq).storage().find("uint12") != std::string::npos);
}
