/**
 * The Lua scripts behind the Redis `LimitStore`. Each check is ONE script call, so it is atomic
 * across every replica sharing the Redis (no read-then-write race). Time comes from the Redis
 * server (`TIME`), never from the caller, so replicas with skewed clocks agree. Every key carries a
 * PEXPIRE and vanishes by itself once its usage has left its window.
 *
 * The window arithmetic mirrors `sliding-window.ts` exactly: a counter is a hash of slot index →
 * units; a check counts every slot overlapping the last `windowMs`.
 */
import { SLOTS_PER_WINDOW } from './sliding-window.js';

const SERVER_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Reads a counter hash, dropping slots that left the window; returns live slots oldest first and their sum. */
const READ_COUNTER = `
local function read_counter(key, now, window, width)
  local oldest = math.floor((now - window) / width)
  local raw = redis.call('HGETALL', key)
  local live, used = {}, 0
  for j = 1, #raw, 2 do
    local index, count = tonumber(raw[j]), tonumber(raw[j + 1])
    if index < oldest then
      redis.call('HDEL', key, raw[j])
    else
      live[#live + 1] = { index, count }
      used = used + count
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return live, used
end
local function width_of(window)
  return math.max(1, math.ceil(window / ${SLOTS_PER_WINDOW}))
end
`;

/**
 * KEYS: one counter per check. ARGV: limit, windowMs, cost for each check, in order.
 * Returns `{allowed, retryAfterMs, remaining1, resetMs1, remaining2, resetMs2, …}`.
 */
export const CONSUME_SCRIPT = `${SERVER_NOW}${READ_COUNTER}
local checks = {}
local allowed = true
for i = 1, #KEYS do
  local limit, window, cost = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local width = width_of(window)
  local live, used = read_counter(KEYS[i], now, window, width)
  if used + cost > limit then allowed = false end
  checks[i] = { limit = limit, window = window, cost = cost, width = width, live = live, used = used }
end
local retry = 0
local out = { allowed and 1 or 0, 0 }
for i = 1, #KEYS do
  local c = checks[i]
  if allowed and c.cost ~= 0 then
    local current = math.floor(now / c.width)
    redis.call('HINCRBY', KEYS[i], string.format('%d', current), c.cost)
    redis.call('PEXPIRE', KEYS[i], c.window + c.width)
    c.used = c.used + c.cost
    local last = c.live[#c.live]
    if last and last[1] == current then last[2] = last[2] + c.cost else c.live[#c.live + 1] = { current, c.cost } end
  elseif not allowed and c.used + c.cost > c.limit then
    local left, wait = c.used, nil
    for j = 1, #c.live do
      left = left - c.live[j][2]
      if left + c.cost <= c.limit then wait = (c.live[j][1] + 1) * c.width + c.window - now break end
    end
    if not wait then
      local newest = c.live[#c.live] and c.live[#c.live][1] or math.floor(now / c.width)
      wait = (newest + 1) * c.width + c.window - now
    end
    if wait > retry then retry = wait end
  end
  local reset = 0
  if c.used > 0 then
    for j = #c.live, 1, -1 do
      if c.live[j][2] > 0 then reset = (c.live[j][1] + 1) * c.width + c.window - now break end
    end
  end
  out[#out + 1] = math.max(0, c.limit - c.used)
  out[#out + 1] = math.max(0, reset)
end
out[2] = math.max(0, retry)
return out
`;

/**
 * KEYS[1]: a counter. ARGV: windowMs, delta. Positive units go to the current slot; negative ones
 * are given back oldest slot first and never below zero in a slot (a negative slot would outlive
 * the reservation it cancels and later let a window exceed its limit).
 */
export const ADJUST_SCRIPT = `${SERVER_NOW}${READ_COUNTER}
local window, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
local width = width_of(window)
if delta > 0 then
  redis.call('HINCRBY', KEYS[1], string.format('%d', math.floor(now / width)), delta)
  redis.call('PEXPIRE', KEYS[1], window + width)
  return 1
end
local live = read_counter(KEYS[1], now, window, width)
local owed = -delta
for j = 1, #live do
  if owed <= 0 then break end
  local take = math.min(live[j][2], owed)
  if take > 0 then
    redis.call('HINCRBY', KEYS[1], string.format('%d', live[j][1]), -take)
    owed = owed - take
  end
end
return 1
`;

/**
 * KEYS[1]: a sorted set of slots scored by expiry time. ARGV: max, ttlMs, member (unique per call).
 * Returns `{acquired, inUse}`.
 */
export const ACQUIRE_SCRIPT = `${SERVER_NOW}
local max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
if used >= max then return { 0, used } end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
local expiry = tonumber(redis.call('PTTL', KEYS[1]))
if expiry < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return { 1, used + 1 }
`;

/** KEYS[1]: the slot set. Gives back the live slot closest to expiring (slots are anonymous). */
export const RELEASE_SCRIPT = `${SERVER_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZPOPMIN', KEYS[1])
return 1
`;
