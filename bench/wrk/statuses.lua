-- wrk script of `cargo xtask bench`: counts the responses by HTTP status over every thread
-- and prints one `status <code> <count>` line each after wrk's summary. The /authorize flood
-- uses it to report what the provider answered (a redirect to the login page, or 429 once it
-- caps pending logins) instead of wrk's single "Non-2xx or 3xx responses" count.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  -- Global, so that done() can read it from each thread with thread:get.
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
end
