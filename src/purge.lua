-- WatchLLM's cache purge (src/worker_glue/purge.rs), atomic. ARGV: project, endpoint ("" purges
-- everything), entry hash.
-- Everything: the project's cache generation goes up, so every entry and bucket of the old one is
-- out of reach at once (they expire on their own). One entry: it is deleted in the current
-- generation. Either way the purge epoch goes up, so isolates drop what they keep in memory.
-- Reply: the generation now, and the entries deleted (-1 for everything).
local state = 'wl:p:' .. ARGV[1]
redis.call('HINCRBY', state, 'l1', 1)
if ARGV[2] == '' then
  return {redis.call('HINCRBY', state, 'gen', 1), -1}
end
local gen = tonumber(redis.call('HGET', state, 'gen')) or 0
return {gen, redis.call('DEL', 'wl:c2:' .. ARGV[1] .. ':g' .. gen .. ':' .. ARGV[2] .. ':' .. ARGV[3])}
