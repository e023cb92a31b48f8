// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Reader, encoder and decoder for llama2.c's `tokenizer.bin`, validating every byte.
//
// File layout (all little-endian, no padding):
//
//   offset 0: int32 max_token_length
//   then, for each token until the end of the data (the file does not store the count):
//       float32 score     merge priority: the higher, the earlier two pieces merge into it
//       int32   length    byte length of the piece
//       length bytes      the piece (UTF-8 text, or `<0xHH>` for a raw byte; no NUL)
//   The token's id is its position in the file, from 0. llama2.c vocabularies start with
//   <unk> (0), <s> (BOS, 1) and </s> (EOS, 2), then the 256 byte pieces <0x00>..<0xFF>
//   (3..258) when the vocabulary has them.
//
// Validation (every failure throws qins::Error of kind bad_file whose message starts with
// "tokenizer 'SOURCE': " or, when no source is given, "tokenizer: ", and names the token
// index and its byte offset where there is one). run.c trusts all of this blindly:
//   - a file shorter than the 4-byte max_token_length field (an empty file included);
//   - max_token_length <= 0, or above limits::max_token_length (2^16);
//   - a file that ends inside a token: the message says in which token, in which field
//     and how many bytes are missing;
//   - a piece length < 0 or > max_token_length, or 0 (an empty piece);
//   - a piece containing a NUL byte (run.c handles pieces as C strings);
//   - a NaN or infinite score (detected by bit pattern, so also under -ffast-math);
//   - more tokens than limits::vocab_size (2^20), or fewer than 3 (no tokens at all has its
//     own message): ids 0, 1 and 2 are <unk>, BOS and EOS, which encode() and decode() use.
// Nothing is allocated from an unchecked field: a length is checked against its cap and
// against the bytes left before any byte of it is used. Every byte is read through
// qins::detail::ByteReader (qins/detail/byte_reader.hpp), from memory or streamed.
// Duplicate pieces are allowed (the 32000-token Llama vocabulary has none, but converted
// ones may); lookup() and encode() then use the lowest id.
//
// Decoding follows run.c's `decode`: a token's piece, with its leading space dropped when
// the previous token is BOS, and a piece of exactly `<0x` + two hex digits (either case)
// + `>` standing for that raw byte. Unlike run.c, BOS and EOS decode to nothing (run.c
// prints their pieces "\n<s>\n" and "\n</s>\n"), and "<0x4" or "<0x41>x" are ordinary
// pieces (run.c's sscanf accepts them as bytes). decode() returns raw bytes, which need not
// be valid UTF-8; printable() makes them safe to write to a terminal.
//
// Encoding gives the ids of run.c's `encode` (karpathy/llama2.c) exactly on llama2.c's
// vocabularies, computed in O(n log n) instead of run.c's O(n^2); Tokenizer::encode() lists
// the cases run.c mishandles, where it differs.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "qins/detail/byte_reader.hpp"
#include "qins/error.hpp"
#include "qins/llama2/checkpoint.hpp"

namespace qins::llama2 {

namespace limits {
/// Upper bound on a tokenizer's max_token_length field, and so on every piece's byte
/// length (the longest piece of the 32000-token Llama vocabulary has 27 bytes). The token
/// count is bounded by limits::vocab_size.
inline constexpr int max_token_length = 1 << 16;
}  // namespace limits

/// What Tokenizer::encode() does with a character that has no piece and cannot fall back
/// to byte pieces (a vocabulary without all of the character's `<0xHH>` pieces).
enum class UnknownCharacters {
  unk,    ///< the character becomes one <unk> token (id 0)
  error,  ///< throw qins::Error (invalid_argument) naming its byte offset and its bytes
};

class Tokenizer;

namespace detail {
struct TokenizerAccess;
}  // namespace detail

/// A validated llama2.c vocabulary: pieces, scores and a hash index over the pieces.
/// Obtained from parse_tokenizer() or read_tokenizer(); copyable and movable (a moved-from
/// Tokenizer may only be assigned to or destroyed). All const member functions are safe to
/// call from several threads at once. Ids are `int` in [0, size()).
class Tokenizer {
 public:
  /// Number of tokens (the vocabulary size), at least 3.
  int size() const noexcept { return static_cast<int>(scores_.size()); }
  /// The piece of token `id`, as stored (for byte tokens the six characters `<0xHH>`). The
  /// view stays valid as long as this object lives and is not assigned to or moved from.
  /// Throws qins::Error (invalid_argument) if id is not in [0, size()).
  std::string_view piece(int id) const {
    check_id(id);
    return piece_unchecked(id);
  }
  /// The merge score of token `id` (finite). Throws qins::Error (invalid_argument) if id is
  /// out of range.
  float score(int id) const {
    check_id(id);
    return scores_[static_cast<std::size_t>(id)];
  }
  /// The file's max_token_length field (>= the longest piece, <= limits::max_token_length).
  int max_token_length() const noexcept { return max_token_length_; }
  /// The source name given to the parser (the path for read_tokenizer()), maybe empty.
  const std::string& source() const noexcept { return source_; }
  /// The beginning-of-sequence token, <s>: 1 in every llama2.c vocabulary.
  static constexpr int bos_id() noexcept { return 1; }
  /// The end-of-sequence token, </s>: 2.
  static constexpr int eos_id() noexcept { return 2; }
  /// The unknown token, <unk>: 0. encode() emits it for a character it cannot spell
  /// (UnknownCharacters::unk), and wherever the text merges into its piece.
  static constexpr int unk_id() noexcept { return 0; }
  /// True when all 256 byte pieces `<0x00>`..`<0xFF>` are present (hex digits in either
  /// case), so that encode() can spell any character with them.
  bool has_byte_pieces() const noexcept { return has_byte_pieces_; }
  /// The id of the byte piece for `byte` (`<0xHH>`, either case; the lowest such id), or -1
  /// when the vocabulary has none.
  int byte_id(unsigned char byte) const noexcept { return byte_ids_[byte]; }
  /// The id of the token whose piece is exactly `text`, or -1. When several tokens have
  /// that piece (duplicates are allowed), the lowest id.
  int lookup(std::string_view text) const noexcept {
    return find(detail_hash(hash_basis, text), text.data(), text.size(), nullptr, 0);
  }

  /// Checks that this vocabulary fits a model with `model_vocab_size` logits.
  /// Throws qins::Error: size_mismatch, in one line naming both (e.g. "tokenizer
  /// 'tok105.bin' has 105 tokens but model 'stories260K.bin' has a vocabulary of 512"),
  /// when size() != model_vocab_size; invalid_argument when model_vocab_size <= 0.
  /// `model_name` (e.g. the checkpoint's path) may be empty.
  inline void check_vocabulary(int model_vocab_size, const std::string& model_name) const;

  /// The text of `token` when it follows `prev_token` (run.c's rules, see the top of this
  /// header): "" for BOS and EOS; for a byte piece `<0xHH>` the one raw byte HH; otherwise
  /// the piece, minus its leading space when prev_token is BOS (1). prev_token is only
  /// compared with BOS and may be any value. Throws qins::Error (invalid_argument) if token
  /// is out of range.
  inline std::string decode_piece(int prev_token, int token) const;

  /// decode_piece() over a sequence, concatenated: each token's previous token is the one
  /// before it, the first one's is `prev_token` (BOS by default, so the dummy-prefix space
  /// that encode() adds is dropped again). Raw bytes, not necessarily valid UTF-8.
  /// Throws qins::Error (invalid_argument), naming the position, for an id out of range.
  inline std::string decode(const std::vector<int>& tokens, int prev_token = bos_id()) const;

  /// Encodes `text` (raw bytes, normally UTF-8) exactly as llama2.c's run.c `encode(t, text,
  /// bos, eos)` does:
  ///   1. BOS (1) if `bos`.
  ///   2. If text is not empty, a dummy-prefix space, as a character of its own.
  ///   3. The text split into characters as run.c splits it: a character starts at any byte
  ///      and takes the following continuation bytes (10xxxxxx) while it has fewer than 4
  ///      bytes. So a well-formed UTF-8 character is one character; a stray continuation
  ///      byte starts one too (and takes up to 3 more continuation bytes after it), and an
  ///      ASCII byte followed by continuation bytes takes them ("a\x80" is one character).
  ///   4. Each character becomes the token whose piece it is; a character without a piece
  ///      becomes one token per byte, the id of the piece `<0xHH>` (run.c uses byte + 3, the
  ///      same id in llama2.c vocabularies). A character that has neither a piece nor byte
  ///      pieces for all its bytes (a vocabulary without byte pieces, such as BabyLlama's
  ///      tok105.bin, which has no "\n") becomes one <unk> (0) token per character here,
  ///      which takes no part in the merges, or throws with UnknownCharacters::error; run.c
  ///      would emit a wrong id.
  ///   5. Merges, over the tokens after BOS: while some adjacent pair's concatenated pieces
  ///      are a piece with a score > -1e10 (run.c's starting best score), the pair with the
  ///      highest such score is replaced by that piece's token, ties going to the leftmost.
  ///   6. EOS (2) if `eos`.
  /// The merges run over a linked list of symbols with a priority queue of candidate pairs,
  /// ordered by (score descending, left position ascending) and invalidated lazily, which
  /// picks the same pair as run.c's scan at every step: O(n log n) for n characters.
  /// Differences from run.c, none of which changes a result on llama2.c's vocabularies: BOS
  /// is a control token and never merges, so a result with `bos` always starts with 1 (run.c
  /// merges it like text, which matters only if some piece starts with BOS's piece, e.g.
  /// "\n<s>\n..."; none of llama2.c's does); a NUL byte is encoded as a byte (run.c stops
  /// at it); with duplicate pieces the lowest id is used (run.c's bsearch picks any); a
  /// vocabulary without " " spells the dummy prefix like any other character (run.c emits
  /// id -1).
  /// Throws qins::Error (invalid_argument) only with UnknownCharacters::error, naming the
  /// character's byte offset in `text` and its bytes in hex.
  std::vector<int> encode(std::string_view text, bool bos = true, bool eos = false) const {
    return encode(text, bos, eos, UnknownCharacters::unk);
  }
  /// encode() with the given treatment of characters that have neither a piece nor byte
  /// pieces.
  inline std::vector<int> encode(std::string_view text, bool bos, bool eos,
                                 UnknownCharacters unknown) const;

 private:
  friend struct detail::TokenizerAccess;
  Tokenizer() { byte_ids_.fill(-1); }

  // FNV-1a, 64 bit: hash(a + b) continues from hash(a), so that a merge candidate is looked
  // up without building the concatenated string.
  static constexpr std::uint64_t hash_basis = 14695981039346656037ull;
  static constexpr std::uint64_t hash_prime = 1099511628211ull;
  static std::uint64_t detail_hash(std::uint64_t h, std::string_view s) noexcept {
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * hash_prime;
    return h;
  }
  static std::size_t slot_of(std::uint64_t h) noexcept {
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return static_cast<std::size_t>(h);
  }

  void check_id(int id) const {
    if (id < 0 || id >= size()) {
      throw Error(ErrorKind::invalid_argument, where() + ": token id " + std::to_string(id) +
                                                   " is out of range [0, " +
                                                   std::to_string(size()) + ")");
    }
  }
  std::string where() const {
    return source_.empty() ? std::string("tokenizer") : "tokenizer '" + source_ + "'";
  }
  std::string_view piece_unchecked(int id) const noexcept {
    const std::size_t i = static_cast<std::size_t>(id);
    return std::string_view(bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  // The lowest id whose piece is a (na bytes) followed by b (nb bytes), with h the hash of
  // that concatenation; -1 if none.
  int find(std::uint64_t h, const char* a, std::size_t na, const char* b,
           std::size_t nb) const noexcept {
    if (table_.empty() || na + nb == 0 || na + nb > longest_piece_) return -1;
    const std::size_t mask = table_.size() - 1;
    for (std::size_t s = slot_of(h) & mask;; s = (s + 1) & mask) {
      const std::int32_t id = table_[s];
      if (id < 0) return -1;
      const std::size_t i = static_cast<std::size_t>(id);
      if (hashes_[i] != h || offsets_[i + 1] - offsets_[i] != na + nb) continue;
      const char* p = bytes_.data() + offsets_[i];
      if (std::memcmp(p, a, na) == 0 && (nb == 0 || std::memcmp(p + na, b, nb) == 0)) return id;
    }
  }
  // The token for the concatenation of the pieces of tokens a and b, or -1.
  int find_pair(int a, int b) const noexcept {
    const std::string_view pb = piece_unchecked(b);
    const std::string_view pa = piece_unchecked(a);
    if (pa.size() + pb.size() > longest_piece_) return -1;
    const std::uint64_t h = detail_hash(hashes_[static_cast<std::size_t>(a)], pb);
    return find(h, pa.data(), pa.size(), pb.data(), pb.size());
  }
  // Stands for <unk> in the symbols being merged: an unknown character, which never merges.
  static constexpr int unknown_symbol = -2;
  // Appends the tokens of one character (run.c's step 4) to `out`.
  inline void encode_character(std::string_view ch, std::size_t offset, bool prefix,
                               UnknownCharacters unknown, std::vector<int>& out) const;
  inline void merge(std::vector<int>& ids, std::size_t first) const;

  std::string source_;
  int max_token_length_ = 0;
  std::size_t longest_piece_ = 0;
  std::string bytes_;                  // every piece, concatenated
  std::vector<std::size_t> offsets_;   // size() + 1 offsets into bytes_
  std::vector<float> scores_;          // size()
  std::vector<std::uint64_t> hashes_;  // FNV-1a of each piece
  std::vector<std::int32_t> table_;    // open addressing over ids, -1 = empty; power of 2
  std::array<std::int32_t, 256> byte_ids_{};
  bool has_byte_pieces_ = false;
};

/// `text` made safe to write to a terminal: valid UTF-8 characters, "\n" and "\t" pass
/// through; every other byte below 0x20, 0x7F, the two bytes of each C1 control character
/// (U+0080..U+009F, which terminals may act on), and every byte that is not part of a
/// well-formed UTF-8 character (stray continuation bytes, truncated or overlong sequences,
/// surrogates, code points above U+10FFFF, bytes 0xC0, 0xC1, 0xF5..0xFF) become the four
/// characters `\xHH` (uppercase hex). A backslash itself passes through unchanged, so the
/// result is for reading, not for parsing back.
inline std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  const std::size_t n = text.size();
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // The length of a well-formed sequence led by c, and the allowed range of its second
    // byte (Unicode table 3-7); 0 for a byte that cannot lead one.
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool ok = len > 0 && i + len <= n && byte(i + 1) >= lo && byte(i + 1) <= hi;
    for (std::size_t k = 2; ok && k < len; ++k) ok = byte(i + k) >= 0x80 && byte(i + k) <= 0xBF;
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    if (c == 0xC2 && byte(i + 1) <= 0x9F) {  // C1 control
      escape(c);
      escape(byte(i + 1));
    } else {
      out.append(text.data() + i, len);
    }
    i += len;
  }
  return out;
}

namespace detail {

/// "tokenizer" or "tokenizer 'name'", the prefix of every message.
inline std::string describe_tokenizer(const std::string& source) {
  return source.empty() ? std::string("tokenizer") : "tokenizer '" + source + "'";
}

inline std::string bytes_word(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

/// The byte value of a piece of exactly `<0x` + two hex digits + `>`, or -1.
inline int byte_piece_value(std::string_view p) noexcept {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = digit(p[3]), lo = digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

struct TokenizerAccess {
  // The one parser: every byte through `in`, whose source description prefixes every
  // failure. `reserve_hint`: bytes of data known to be there, bounding what is reserved up
  // front (0 for a stream, so that a wrong file is rejected before anything large is made).
  static Tokenizer parse(qins::detail::ByteReader& in, const std::string& source,
                         std::size_t reserve_hint) {
    const std::string where = in.source();
    Tokenizer t;
    t.source_ = source;
    if (in.at_end()) in.fail("the file is empty");
    if (in.remaining() < 4) {
      in.fail("the file has " + bytes_word(static_cast<std::size_t>(in.remaining())) +
              ", fewer than the 4 of its max_token_length field");
    }
    const std::int32_t max_len = in.i32("max_token_length");
    if (max_len <= 0) {
      in.fail("max_token_length must be positive, got " + std::to_string(max_len));
    }
    if (max_len > limits::max_token_length) {
      in.fail("max_token_length = " + std::to_string(max_len) + " exceeds the cap of " +
              std::to_string(limits::max_token_length) +
              " (implausible; see qins::llama2::limits)");
    }
    t.max_token_length_ = max_len;

    // Every token takes at least 9 bytes, so each reservation is smaller than the data.
    const std::size_t most = std::min<std::size_t>(reserve_hint / 9, limits::vocab_size);
    t.scores_.reserve(most);
    t.offsets_.reserve(most + 1);
    t.bytes_.reserve(reserve_hint);
    t.offsets_.push_back(0);

    std::size_t index = 0;  // of the token being read
    auto token = [&] {
      return "token " + std::to_string(index) + " (at byte offset " +
             std::to_string(in.position()) + ")";
    };
    for (; !in.at_end(); ++index) {
      if (index >= static_cast<std::size_t>(limits::vocab_size)) {
        in.fail("more than " + std::to_string(limits::vocab_size) + " tokens: " + token() +
                " exceeds the cap (see qins::llama2::limits::vocab_size)");
      }
      const std::size_t left = static_cast<std::size_t>(std::min<std::uint64_t>(in.remaining(), 8));
      if (left < 8) {
        in.fail("the file ends inside " + token() + ": its " + (left < 4 ? "score" : "length") +
                " field is cut short, " + bytes_word(8 - left) + " missing");
      }
      const std::string at = token();  // the offset of the token's first byte
      const std::uint32_t score_bits = in.u32("score");
      const std::int32_t len = in.i32("length");
      if (!qins::detail::is_finite_f32_bits(score_bits)) {
        static constexpr char hex[] = "0123456789abcdef";
        std::string bits = "0x";
        for (int s = 28; s >= 0; s -= 4) bits += hex[(score_bits >> s) & 15u];
        in.fail(at + " has a non-finite score (" +
                ((score_bits & 0x007fffffu) != 0 ? "NaN" : "infinity") + ", bit pattern " + bits +
                ")");
      }
      if (len == 0) in.fail(at + " has an empty piece (byte length 0)");
      if (len < 0 || len > max_len) {
        in.fail(at + " has byte length " + std::to_string(len) +
                ", outside [1, max_token_length = " + std::to_string(max_len) + "]");
      }
      const std::size_t n = static_cast<std::size_t>(len);
      if (in.remaining() < n) {
        const std::size_t got = static_cast<std::size_t>(in.remaining());
        in.fail("the file ends inside " + at + ": its piece has byte length " + std::to_string(n) +
                " but only " + bytes_word(got) + " are left, " + bytes_word(n - got) + " missing");
      }
      const unsigned char* p = reinterpret_cast<const unsigned char*>(in.take(n, "piece"));
      if (const void* nul = std::memchr(p, 0, n)) {
        in.fail(at + " has a NUL byte in its piece, at index " +
                std::to_string(static_cast<const unsigned char*>(nul) - p));
      }
      float score;
      std::memcpy(&score, &score_bits, sizeof score);
      try {
        t.scores_.push_back(score);
        t.bytes_.append(reinterpret_cast<const char*>(p), n);
        t.offsets_.push_back(t.bytes_.size());
      } catch (const std::bad_alloc&) {
        throw Error(ErrorKind::io_failure, where + ": out of memory at " + at);
      }
    }
    if (t.scores_.empty()) {
      in.fail("the file holds no tokens, only the 4-byte max_token_length field");
    }
    if (t.scores_.size() < 3) {
      in.fail("the file holds " + std::to_string(t.scores_.size()) +
              (t.scores_.size() == 1 ? " token" : " tokens") +
              "; a llama2.c vocabulary has at least 3 (<unk>, BOS, EOS: ids "
              "0, 1, 2)");
    }
    try {
      build_index(t);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::io_failure, where + ": out of memory indexing " +
                                             std::to_string(t.scores_.size()) + " tokens");
    }
    return t;
  }

  // The hashes, the open-addressing table (load <= 1/2, lowest id first), the byte pieces.
  static void build_index(Tokenizer& t) {
    const std::size_t n = t.scores_.size();
    t.hashes_.resize(n);
    std::size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    t.table_.assign(capacity, -1);
    const std::size_t mask = capacity - 1;
    for (std::size_t i = 0; i < n; ++i) {
      const int id = static_cast<int>(i);
      const std::string_view p = t.piece_unchecked(id);
      t.longest_piece_ = std::max(t.longest_piece_, p.size());
      const std::uint64_t h = Tokenizer::detail_hash(Tokenizer::hash_basis, p);
      t.hashes_[i] = h;
      // Duplicates: the first (lowest) id stays in the table, later ones are left out.
      std::size_t s = Tokenizer::slot_of(h) & mask;
      bool duplicate = false;
      for (; t.table_[s] >= 0; s = (s + 1) & mask) {
        const int other = t.table_[s];
        if (t.hashes_[static_cast<std::size_t>(other)] == h && t.piece_unchecked(other) == p) {
          duplicate = true;
          break;
        }
      }
      if (!duplicate) t.table_[s] = id;
      const int b = byte_piece_value(p);
      if (b >= 0 && t.byte_ids_[static_cast<std::size_t>(b)] < 0) {
        t.byte_ids_[static_cast<std::size_t>(b)] = id;
      }
    }
    t.has_byte_pieces_ = std::all_of(t.byte_ids_.begin(), t.byte_ids_.end(),
                                     [](std::int32_t id) { return id >= 0; });
  }
};

}  // namespace detail

inline void Tokenizer::check_vocabulary(int model_vocab_size, const std::string& model_name) const {
  const std::string model =
      model_name.empty() ? std::string("the model") : "model '" + model_name + "'";
  if (model_vocab_size <= 0) {
    throw Error(ErrorKind::invalid_argument, where() + ": " + model +
                                                 " has a non-positive vocabulary size " +
                                                 std::to_string(model_vocab_size));
  }
  if (model_vocab_size != size()) {
    throw Error(ErrorKind::size_mismatch, where() + " has " + std::to_string(size()) +
                                              " tokens but " + model + " has a vocabulary of " +
                                              std::to_string(model_vocab_size));
  }
}

inline std::string Tokenizer::decode_piece(int prev_token, int token) const {
  check_id(token);
  if (token == bos_id() || token == eos_id()) return {};
  std::string_view p = piece_unchecked(token);
  if (prev_token == bos_id() && p.front() == ' ') p.remove_prefix(1);
  const int b = detail::byte_piece_value(p);
  if (b >= 0) return std::string(1, static_cast<char>(b));
  return std::string(p);
}

inline std::string Tokenizer::decode(const std::vector<int>& tokens, int prev_token) const {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const int token = tokens[i];
    if (token < 0 || token >= size()) {
      throw Error(ErrorKind::invalid_argument,
                  where() + ": token id " + std::to_string(token) + " at position " +
                      std::to_string(i) + " is out of range [0, " + std::to_string(size()) + ")");
    }
    if (token != bos_id() && token != eos_id()) {
      std::string_view p = piece_unchecked(token);
      if (prev_token == bos_id() && p.front() == ' ') p.remove_prefix(1);
      const int b = detail::byte_piece_value(p);
      if (b >= 0) {
        out += static_cast<char>(b);
      } else {
        out += p;
      }
    }
    prev_token = token;
  }
  return out;
}

inline void Tokenizer::encode_character(std::string_view ch, std::size_t offset, bool prefix,
                                        UnknownCharacters unknown, std::vector<int>& out) const {
  const int id = lookup(ch);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  bool bytes = true;
  for (const char c : ch) bytes = bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
  if (bytes) {
    for (const char c : ch) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
    return;
  }
  if (unknown == UnknownCharacters::unk) {
    out.push_back(unknown_symbol);
    return;
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string spelled;
  for (const char c : ch) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!spelled.empty()) spelled += ' ';
    spelled += hex[u >> 4];
    spelled += hex[u & 15];
  }
  const std::string what =
      prefix
          ? std::string("the dummy-prefix space (bytes 20) added before the text")
          : "the character at byte offset " + std::to_string(offset) + " (bytes " + spelled + ")";
  throw Error(ErrorKind::invalid_argument,
              where() + ": cannot encode " + what +
                  ": it is not a piece and the vocabulary lacks byte pieces for " +
                  (ch.size() == 1 ? "it" : "its bytes"));
}

// Merges ids[first..] in place (ids before `first`, the BOS, take no part, nor do
// unknown_symbol entries, which become unk_id()).
inline void Tokenizer::merge(std::vector<int>& ids, std::size_t first) const {
  if (ids.size() < first + 2) {
    for (int& id : ids) id = id == unknown_symbol ? unk_id() : id;
    return;
  }
  const std::size_t n = ids.size() - first;
  // Symbol i: a token of the current sequence, linked to its neighbours; merging a pair
  // keeps the left symbol (its index is its position order) and retires the right one.
  struct Symbol {
    int id;  // -1 once merged into its left neighbour; unknown_symbol for <unk>
    int prev, next;
  };
  struct Candidate {
    // The order in one integer: the score's bits mapped so that unsigned order is float
    // order (high half), then the left symbol's index complemented (low half), so that the
    // greatest key is the highest score and, among equal scores, the leftmost pair.
    std::uint64_t key;
    int right;              // symbol index (the left one is in the key)
    int left_id, right_id;  // their tokens when the candidate was made
    int merged;
    int left() const noexcept { return static_cast<int>(~static_cast<std::uint32_t>(key)); }
  };
  auto lower = [](const Candidate& a, const Candidate& b) { return a.key < b.key; };
  auto key_of = [](float score, int left) {
    if (score == 0.0f) score = 0.0f;  // -0 ties with +0, as in run.c's comparison
    std::uint32_t bits;
    std::memcpy(&bits, &score, sizeof bits);
    bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
    return (static_cast<std::uint64_t>(bits) << 32) | ~static_cast<std::uint32_t>(left);
  };
  std::vector<Symbol> sym(n);
  for (std::size_t i = 0; i < n; ++i) {
    sym[i] = {ids[first + i], static_cast<int>(i) - 1, i + 1 < n ? static_cast<int>(i) + 1 : -1};
  }
  std::vector<Candidate> heap;
  heap.reserve(n);
  auto consider = [&](int left, bool sift) {
    const int right = sym[static_cast<std::size_t>(left)].next;
    if (right < 0) return;
    const int a = sym[static_cast<std::size_t>(left)].id;
    const int b = sym[static_cast<std::size_t>(right)].id;
    if (a < 0 || b < 0) return;  // unknown_symbol
    const int merged = find_pair(a, b);
    if (merged < 0) return;
    const float score = scores_[static_cast<std::size_t>(merged)];
    if (!(score > -1e10f)) return;  // run.c: only scores above its starting best count
    heap.push_back({key_of(score, left), right, a, b, merged});
    if (sift) std::push_heap(heap.begin(), heap.end(), lower);
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<int>(i), false);
  std::make_heap(heap.begin(), heap.end(), lower);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower);
    const Candidate c = heap.back();
    heap.pop_back();
    const int left = c.left();
    Symbol& l = sym[static_cast<std::size_t>(left)];
    if (l.id != c.left_id || l.next != c.right) continue;  // stale
    Symbol& r = sym[static_cast<std::size_t>(c.right)];
    if (r.id != c.right_id) continue;  // stale
    l.id = c.merged;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = left;
    r.id = -1;
    if (l.prev >= 0) consider(l.prev, true);
    consider(left, true);
  }
  std::size_t k = first;
  for (int i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
    const int id = sym[static_cast<std::size_t>(i)].id;
    ids[k++] = id == unknown_symbol ? unk_id() : id;
  }
  ids.resize(k);
}

inline std::vector<int> Tokenizer::encode(std::string_view text, bool bos, bool eos,
                                          UnknownCharacters unknown) const {
  std::vector<int> ids;
  ids.reserve(text.size() + 3);
  if (bos) ids.push_back(bos_id());
  if (!text.empty()) {
    encode_character(" ", 0, true, unknown, ids);
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
      const std::size_t start = i++;
      while (i < n && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80 && i - start < 4) ++i;
      encode_character(text.substr(start, i - start), start, false, unknown, ids);
    }
  }
  merge(ids, bos ? 1 : 0);
  if (eos) ids.push_back(eos_id());
  return ids;
}

/// Parses a llama2.c tokenizer held in memory (`size` bytes at `data`). Pure: reads only
/// [data, data + size). `source` names the data in error messages (e.g. a path); it may be
/// empty. Throws qins::Error: bad_file for a truncated or corrupt file (see the list at the
/// top of this header); invalid_argument if data is null while size > 0; io_failure if
/// memory runs out.
inline Tokenizer parse_tokenizer(const unsigned char* data, std::size_t size,
                                 const std::string& source = "") {
  qins::detail::ByteReader in(data, size, detail::describe_tokenizer(source));
  return detail::TokenizerAccess::parse(in, source, size);
}

/// Reads and parses a llama2.c tokenizer file, streaming it: a file that is not a
/// tokenizer (a checkpoint given by mistake) is rejected after its first bytes, not read
/// whole. Throws qins::Error: io_failure, with the path, if the path is empty, does not
/// exist, is a directory (said so) or cannot be opened or read; otherwise as
/// parse_tokenizer().
inline Tokenizer read_tokenizer(const std::string& path) {
  if (path.empty()) throw Error(ErrorKind::io_failure, "tokenizer: the path is empty");
  const std::string where = detail::describe_tokenizer(path);
  std::uint64_t size = 0;
  std::ifstream file = detail::open_model_file(path, where, "tokenizer", size);
  qins::detail::ByteReader in(file, size, where);
  return detail::TokenizerAccess::parse(in, path, 0);
}

namespace detail {

/// run.c's `encode`, transcribed: the same character loop and its O(n^2) merge loop that
/// rescans every adjacent pair, concatenating pieces, after each merge (with the
/// differences that Tokenizer::encode() documents: BOS does not merge, byte pieces by id,
/// <unk> for an unknown character, which does not merge either). The specification that
/// Tokenizer::encode() is tested and fuzzed against; too slow for long texts. Same arguments,
/// results and exception kinds as Tokenizer::encode().
inline std::vector<int> encode_reference(const Tokenizer& t, std::string_view text, bool bos,
                                         bool eos,
                                         UnknownCharacters unknown = UnknownCharacters::unk) {
  std::vector<int> tokens;
  auto fallback = [&](const std::string& buffer, std::size_t offset, bool prefix) {
    const int id = t.lookup(buffer);
    if (id != -1) {
      tokens.push_back(id);
      return;
    }
    bool all = true;
    for (const char c : buffer) all = all && t.byte_id(static_cast<unsigned char>(c)) >= 0;
    if (all) {
      for (const char c : buffer) tokens.push_back(t.byte_id(static_cast<unsigned char>(c)));
    } else if (unknown == UnknownCharacters::unk) {
      tokens.push_back(-1);  // <unk>, replaced after the merges
    } else {
      throw Error(ErrorKind::invalid_argument,
                  "tokenizer: unknown character" +
                      (prefix ? std::string(" (dummy prefix)") : " at " + std::to_string(offset)));
    }
  };
  if (bos) tokens.push_back(1);
  if (!text.empty()) fallback(" ", 0, true);
  std::string buffer;
  for (std::size_t c = 0; c < text.size(); ++c) {
    if ((static_cast<unsigned char>(text[c]) & 0xC0) != 0x80) buffer.clear();
    buffer += text[c];
    const bool next_continues =
        c + 1 < text.size() && (static_cast<unsigned char>(text[c + 1]) & 0xC0) == 0x80;
    if (next_continues && buffer.size() < 4) continue;
    fallback(buffer, c + 1 - buffer.size(), false);
    buffer.clear();
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1;
    std::size_t best_idx = 0;
    for (std::size_t i = bos ? 1 : 0; i + 1 < tokens.size(); ++i) {
      if (tokens[i] < 0 || tokens[i + 1] < 0) continue;  // <unk> does not merge
      const std::string pair =
          std::string(t.piece(tokens[i])) + std::string(t.piece(tokens[i + 1]));
      const int id = t.lookup(pair);
      if (id != -1 && t.score(id) > best_score) {
        best_score = t.score(id);
        best_id = id;
        best_idx = i;
      }
    }
    if (best_id == -1) break;
    tokens[best_idx] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_idx) + 1);
  }
  for (int& id : tokens) id = id < 0 ? Tokenizer::unk_id() : id;
  if (eos) tokens.push_back(2);
  return tokens;
}

}  // namespace detail

}  // namespace qins::llama2
