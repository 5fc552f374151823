-- wrk script for the Nerava benchmark: what each connection sends, the pace,
-- and a JSON summary on stdout (one line starting with BENCH_RESULT).
--
-- Arguments after `--`, as key=value:
--   mode    get | wallets | pairs | mix
--   paths   get: comma-separated paths, requested in turn
--   users_prefix, users
--           wallets: read the wallets <users_prefix>-1 .. -<users> in turn
--   key     API key sent as a bearer token (pairs, mix, and get when given)
--   prefix  user id prefix; every run passes a fresh one, so users are distinct
--   rate    requests per second over all threads; 0 (default) is as fast as
--           the server answers
--   limit   stop each thread after this many responses (and print
--           BENCH_LIMIT_REACHED); 0 is no limit
--
-- pairs: a charge-start for a new user, and the charge-stop of its session as
-- soon as the start's answer is in (any connection of the thread may send it).
-- mix: of every 8 requests, 4 windows reads, 2 pair steps, 2 wallet reads.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local START = "/v1/energyhub/events/charge-start"
local STOP = "/v1/energyhub/events/charge-stop"
local WINDOWS = "/v1/energyhub/windows"

-- Per thread (each thread has its own Lua state).
local mode, key, prefix = "get", nil, "bench"
local interval_ms, next_slot = 0, 0
local limit, responses = 0, 0
local fixed, fixed_at = {}, 1
local pending_stops = {}
local started_users, user_count = {}, 0
local step = 0
local json_headers, read_headers = {}, {}
statuses = {}
pairs_done = 0
starts_done = 0
first_failure = ""

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end

local function parse_args(args)
  local parsed = {}
  for _, arg in ipairs(args) do
    local k, v = arg:match("^([%w_]+)=(.*)$")
    if k then parsed[k] = v end
  end
  return parsed
end

function init(args)
  local opts = parse_args(args)
  mode = opts.mode or "get"
  key = opts.key ~= "" and opts.key or nil
  prefix = (opts.prefix or "bench") .. "-" .. (thread_id or 1)
  limit = tonumber(opts.limit or "0")
  local threads_n = tonumber(opts.threads or "1")
  local rate = tonumber(opts.rate or "0")
  if rate > 0 then
    interval_ms = 1000 * threads_n / rate
  end

  read_headers = { ["Accept"] = "application/json" }
  json_headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  if key then
    read_headers["Authorization"] = "Bearer " .. key
    json_headers["Authorization"] = "Bearer " .. key
  end
  if mode == "get" then
    for path in (opts.paths or WINDOWS):gmatch("[^,]+") do
      table.insert(fixed, wrk.format("GET", path, read_headers))
    end
  elseif mode == "wallets" then
    -- The users of an earlier pairs run: <its prefix>-<thread>-<n>.
    for n = 1, tonumber(opts.users or "1") do
      local path = "/v1/wallet/" .. opts.users_prefix .. "-" .. n
      table.insert(fixed, wrk.format("GET", path, read_headers))
    end
  end
end

-- Hold the rate by handing each request the next free slot of the thread's
-- schedule; a request never waits to catch up on slots it missed, so an
-- overloaded server shows as a lower achieved rate, not as a burst.
function delay()
  if interval_ms <= 0 then return 0 end
  local now = now_ms()
  local slot = math.max(next_slot, now)
  next_slot = slot + interval_ms
  return math.floor(slot - now + 0.5)
end

local function pair_step()
  local session_id = table.remove(pending_stops)
  if session_id then
    local body = '{"session_id":"' .. session_id .. '","kwh_consumed":12.5}'
    return wrk.format("POST", STOP, json_headers, body)
  end
  user_count = user_count + 1
  local body = '{"user_id":"' .. prefix .. "-" .. user_count .. '","hub_id":"hub-bench"}'
  return wrk.format("POST", START, json_headers, body)
end

local function wallet_read()
  local n = #started_users
  local user = n > 0 and started_users[(step % n) + 1] or (prefix .. "-none")
  return wrk.format("GET", "/v1/wallet/" .. user, read_headers)
end

function request()
  step = step + 1
  if mode == "get" or mode == "wallets" then
    local req = fixed[fixed_at]
    fixed_at = fixed_at % #fixed + 1
    return req
  elseif mode == "pairs" then
    return pair_step()
  end
  local turn = step % 8
  if turn % 2 == 0 then
    return wrk.format("GET", WINDOWS, read_headers)
  elseif turn == 3 or turn == 7 then
    return wallet_read()
  end
  return pair_step()
end

function response(status, headers, body)
  responses = responses + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status > 299 then
    if first_failure == "" then
      first_failure = status .. " " .. string.sub(body or "", 1, 300)
    end
  elseif (mode == "pairs" or mode == "mix") and body then
    if string.find(body, '"stopped_at"', 1, true) then
      pairs_done = pairs_done + 1
    elseif string.find(body, '"active_window"', 1, true) then
      local session_id = string.match(body, '"session_id":"([^"]+)"')
      if session_id then
        starts_done = starts_done + 1
        table.insert(pending_stops, session_id)
        if #started_users < 1000 then
          table.insert(started_users, string.match(body, '"user_id":"([^"]+)"'))
        end
      end
    end
  end
  -- The marker tells the harness to end wrk now rather than at -d.
  if limit > 0 and responses == limit then
    io.write("BENCH_LIMIT_REACHED\n")
    io.flush()
    wrk.thread:stop()
  end
end

local function json_string(text)
  text = text:gsub('[%c\\"]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return " "
  end)
  return '"' .. text .. '"'
end

local function json_number(value)
  if value ~= value or value == math.huge or value == -math.huge then return "null" end
  return string.format("%.3f", value)
end

function done(summary, latency, requests)
  local merged, pair_total, start_total, failure = {}, 0, 0, ""
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for code, count in pairs(counts) do
      merged[code] = (merged[code] or 0) + count
    end
    pair_total = pair_total + (thread:get("pairs_done") or 0)
    start_total = start_total + (thread:get("starts_done") or 0)
    local first = thread:get("first_failure") or ""
    if failure == "" then failure = first end
  end

  local status_parts = {}
  for code, count in pairs(merged) do
    table.insert(status_parts, string.format('"%d":%d', code, count))
  end
  local percentiles = {}
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    table.insert(percentiles, string.format('"p%s":%s', tostring(p), json_number(latency:percentile(p))))
  end
  local e = summary.errors
  local out = string.format(
    '{"duration_us":%d,"requests":%d,"bytes":%d,"pairs":%d,"starts":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"statuses":{%s},"latency_us":{"min":%s,"mean":%s,"stdev":%s,"max":%s,%s},' ..
    '"first_failure":%s}',
    summary.duration, summary.requests, summary.bytes, pair_total, start_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(status_parts, ","),
    json_number(latency.min), json_number(latency.mean), json_number(latency.stdev),
    json_number(latency.max), table.concat(percentiles, ","),
    json_string(failure))
  io.write("BENCH_RESULT " .. out .. "\n")
end
