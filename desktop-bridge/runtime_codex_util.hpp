// Text and identifier helpers of the codex runtime (runtime_codex*.cpp).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace rc::bridge::codex {

using json = nlohmann::json;

std::string env_or(const char* name, const std::string& dflt);
/// Cuts at a UTF-8 character boundary.
std::string cut_utf8(const std::string& s, std::size_t max_bytes);
/// Whitespace collapsed to single spaces on one line, trimmed, cut with "..." past `max_bytes`.
std::string one_line(const std::string& s, std::size_t max_bytes);
/// `j[key]` when it is a string, else `dflt`.
std::string str_of(const json& j, const char* key, const std::string& dflt = {});
/// `j[key]` when `j` is an object that has it, else null (never throws: codex's JSON is input).
const json& member(const json& j, const char* key);
std::string upper(std::string s);
/// `^[A-Za-z0-9_:-]{1,128}$`
bool compact_id(const std::string& s);
/// Stable UUID-shaped ID from a string (a restarted bridge keeps the project ID of a directory).
std::string stable_uuid(const std::string& s);
std::string basename_of(const std::string& path);
/// waitpid() status as text ("exit status 1", "killed by signal 9").
std::string describe_status(int status);
/// Compact JSON; invalid UTF-8 replaced.
std::string dump(const json& j);
/// Bridge thread ID of a codex thread ID: the upper-cased codex ID (stable across restarts).
std::string bridge_thread_id(const std::string& codex_id);

}  // namespace rc::bridge::codex
