// Text and identifier helpers of the codex runtime (runtime_codex*.cpp).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "desktop-bridge/child_process.hpp"
#include "desktop-bridge/runtime_util.hpp"

namespace rc::bridge::codex {

using json = nlohmann::json;

// The text and identifier helpers shared by every runtime (runtime_util.hpp).
using util::basename_of;
using util::compact_id;
using util::cut_utf8;
using util::dump;
using util::env_or;
using util::one_line;
using util::str_of;
using util::upper;
/// Stable UUID-shaped ID from a string (a restarted bridge keeps the project ID of a directory).
using util::stable_uuid;
/// waitpid() status as text ("exit status 1", "killed by signal 9").
using rc::bridge::describe_wait_status;

/// `j[key]` when `j` is an object that has it, else null (never throws: codex's JSON is input).
const json& member(const json& j, const char* key);
/// Bridge thread ID of a codex thread ID: the upper-cased codex ID (stable across restarts).
std::string bridge_thread_id(const std::string& codex_id);

}  // namespace rc::bridge::codex
