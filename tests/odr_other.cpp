// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Second translation unit of the ODR check: the same headers and computations as odr_main.cpp.
#include <cstddef>
#include <memory>
#include <qins/llama2/baselines.hpp>
#include <qins/llama2/checkpoint.hpp>
#include <qins/llama2/convert.hpp>
#include <qins/llama2/evaluate.hpp>
#include <qins/llama2/hf.hpp>
#include <qins/llama2/model.hpp>
#include <qins/llama2/safetensors.hpp>
#include <qins/llama2/sampler.hpp>
#include <qins/llama2/tokenizer.hpp>
#include <qins/qins.hpp>
#include <vector>

#include "odr_check.hpp"
#include "seed_files.hpp"

namespace odr_check {

Results compute_in_other_unit(unsigned threads) { return compute(threads); }

}  // namespace odr_check
