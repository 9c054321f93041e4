-- Drive the paramlens language server through Neovim's own LSP client, headless.
--
-- Adapted from the reference probe for Neovim 0.7 (Debian bookworm): only 0.7 APIs
-- (vim.lsp.start_client, buf_request_sync, vim.diagnostic.get, vim.wait, vim.json).
-- Run:  nvim --headless -u CONFIG -i NONE -n FILE -c "luafile nvim_probe.lua"
-- The client is the one CONFIG (docs/editors/neovim.lua) attached to the buffer, named "paramlens".
--
-- Environment:
--   PROBE_STEPS     JSON list of steps (required), each {"do": ..., ...}:
--     {"do": "wait_diagnostic", "code": "FRZ01", "timeout_ms": 20000}   wait until a diagnostic
--                                                                       with that code exists
--     {"do": "wait_diagnostic_gone", "code": "FRZ01"}                  until none has that code
--     {"do": "wait_lens", "contains": "params", "timeout_ms": 20000}    re-request codeLens until
--                                                                       a title contains the text
--     {"do": "hover", "line": 0, "byte": 6}                              hover at a byte column
--     {"do": "code_lens"}
--     {"do": "code_action", "code": "FRZ01", "apply": true}             quick fixes of the first
--                                                                       diagnostic with that code
--     {"do": "command", "command": "paramlens.showSummary", "arguments": [...]}
--     {"do": "edit", "file": "/abs/path.py"}                             open another file (the
--                                                                       config attaches it)
--   PROBE_OUT       where to write the JSON result (required)
--   PROBE_TOTAL_MS  watchdog (default 90000)
--   PROBE_TIMEOUT_MS  per request (default 10000)

local uv = vim.loop
local t0 = uv.hrtime()
local function ms() return math.floor((uv.hrtime() - t0) / 1e5) / 10 end
local function env(k, d) local v = os.getenv(k); if v == nil or v == '' then return d end; return v end

local OUT = assert(os.getenv('PROBE_OUT'), 'PROBE_OUT not set')
local TOTAL_MS = tonumber(env('PROBE_TOTAL_MS', '90000'))
local TIMEOUT = tonumber(env('PROBE_TIMEOUT_MS', '10000'))
local v = vim.version()
local out = {
  nvim_version = string.format('%d.%d.%d', v.major, v.minor, v.patch),
  steps = {},
  messages = {},
}

local function plain(x, depth)
  depth = depth or 0
  if depth > 40 then return '<depth>' end
  if type(x) == 'table' then
    local r = {}
    for k, val in pairs(x) do
      local tv = type(val)
      if tv ~= 'function' and tv ~= 'thread' and (tv ~= 'userdata' or val == vim.NIL) then
        r[k] = plain(val, depth + 1)
      end
    end
    return r
  end
  return x
end

local written = false
local function emit()
  if written then return end
  written = true
  out.total_ms = ms()
  local ok, s = pcall(vim.json.encode, plain(out))
  if not ok then s = vim.json.encode({ fatal = 'json encode failed: ' .. tostring(s) }) end
  local f = assert(io.open(OUT, 'w')); f:write(s, '\n'); f:close()
end

local watchdog = uv.new_timer()
watchdog:start(TOTAL_MS, 0, function()
  out.fatal = (out.fatal or '') .. 'watchdog: ' .. TOTAL_MS .. ' ms'
  pcall(emit)
  os.exit(124)
end)

local client
local function quit(code)
  if client then
    client.stop()
    local stopped = vim.wait(5000, function() return vim.lsp.client_is_stopped(client.id) end, 20)
    if not stopped then client.stop(true) end
    out.graceful_shutdown = stopped
  end
  emit()
  watchdog:stop()
  if code == 0 then vim.cmd('qall!') else vim.cmd('cquit ' .. code) end
end

local function request(bufnr, method, params)
  if not client.supports_method(method) then
    return { skipped = 'not advertised by the server' }
  end
  local started = ms()
  local res, err = vim.lsp.buf_request_sync(bufnr, method, params, TIMEOUT)
  local rec = { elapsed_ms = ms() - started }
  if not res then
    rec.client_error = err
  else
    local r = res[client.id] or {}
    rec.result = r.result == nil and vim.NIL or r.result
    rec.error = r.err or r.error
  end
  return rec
end

local function diagnostics_with(bufnr, code)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local c = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
    if code == nil or c == code then table.insert(found, d) end
  end
  return found
end

local function lens_titles(result)
  local titles = {}
  for _, lens in ipairs(result or {}) do
    if type(lens) == 'table' and lens.command and lens.command.title then
      table.insert(titles, lens.command.title)
    end
  end
  return titles
end

local function position(bufnr, line, byte)
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1] or ''
  local _, utf16 = vim.str_utfindex(text, math.min(byte, #text))
  return { line = line, character = utf16 }
end

local steps = {}

function steps.wait_diagnostic(bufnr, step)
  local ok = vim.wait(step.timeout_ms or 30000, function()
    return #diagnostics_with(bufnr, step.code) > 0
  end, 50)
  return { found = ok, diagnostics = vim.diagnostic.get(bufnr) }
end

function steps.wait_diagnostic_gone(bufnr, step)
  local ok = vim.wait(step.timeout_ms or 10000, function()
    return #diagnostics_with(bufnr, step.code) == 0
  end, 50)
  return { gone = ok, diagnostics = vim.diagnostic.get(bufnr) }
end

function steps.wait_lens(bufnr, step)
  local deadline = ms() + (step.timeout_ms or 30000)
  local rec
  repeat
    rec = request(bufnr, 'textDocument/codeLens', { textDocument = { uri = vim.uri_from_bufnr(bufnr) } })
    for _, title in ipairs(lens_titles(rec.result)) do
      if title:find(step.contains, 1, true) then
        rec.found = true
        rec.titles = lens_titles(rec.result)
        return rec
      end
    end
    vim.wait(200)
  until ms() > deadline
  rec.found = false
  rec.titles = lens_titles(rec.result)
  return rec
end

function steps.hover(bufnr, step)
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = position(bufnr, step.line, step.byte) }
  return request(bufnr, 'textDocument/hover', params)
end

function steps.code_lens(bufnr, _)
  local rec = request(bufnr, 'textDocument/codeLens', { textDocument = { uri = vim.uri_from_bufnr(bufnr) } })
  rec.titles = lens_titles(rec.result)
  return rec
end

function steps.code_action(bufnr, step)
  local matching = diagnostics_with(bufnr, step.code)
  if #matching == 0 then return { fatal = 'no diagnostic with code ' .. tostring(step.code) } end
  local d = matching[1]
  -- The diagnostics of that line in LSP form, as vim.lsp.buf.code_action() sends them.
  local line_diagnostics = vim.lsp.diagnostic.get_line_diagnostics(bufnr, d.lnum)
  local lsp_diag
  for _, candidate in ipairs(line_diagnostics) do
    if candidate.code == step.code then lsp_diag = candidate end
  end
  if not lsp_diag then return { fatal = 'no LSP form of the diagnostic' } end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = lsp_diag.range,
    context = { diagnostics = { lsp_diag } },
  }
  local rec = request(bufnr, 'textDocument/codeAction', params)
  rec.titles = {}
  local applied = false
  for _, action in ipairs(type(rec.result) == 'table' and rec.result or {}) do
    table.insert(rec.titles, action.title)
    if step.apply and not applied and action.kind == 'quickfix' and action.edit then
      vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding or 'utf-16')
      applied = true
    end
  end
  rec.applied = applied
  rec.text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
  return rec
end

function steps.command(bufnr, step)
  return request(bufnr, 'workspace/executeCommand', { command = step.command, arguments = step.arguments })
end

local function attached_client(bufnr)
  for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if c.name == 'paramlens' and c.initialized then return c end
  end
  return nil
end

function steps.edit(_, step)
  vim.cmd('edit ' .. vim.fn.fnameescape(step.file))
  local bufnr = vim.api.nvim_get_current_buf()
  local ok = vim.wait(TIMEOUT, function() return attached_client(bufnr) ~= nil end, 20)
  return { attached = ok, bufnr = bufnr, same_client = ok and attached_client(bufnr).id == client.id }
end

local function main()
  local bufnr = vim.api.nvim_get_current_buf()
  out.file = vim.api.nvim_buf_get_name(bufnr)
  local attached = vim.wait(TIMEOUT, function()
    client = attached_client(bufnr)
    return client ~= nil
  end, 20)
  if not attached then error('no initialized "paramlens" client attached to ' .. out.file) end
  out.attached_ms = ms()
  out.offset_encoding = client.offset_encoding
  out.server_info = client.server_capabilities and client.server_capabilities.serverInfo
  local handlers = client.handlers
  handlers['window/showMessage'] = function(_, result) table.insert(out.messages, result) end

  for index, step in ipairs(vim.json.decode((assert(os.getenv('PROBE_STEPS'), 'PROBE_STEPS not set')))) do
    local run = steps[step['do']]
    if not run then error('unknown step ' .. tostring(step['do'])) end
    local started = ms()
    local rec = run(vim.api.nvim_get_current_buf(), step)
    rec['do'] = step['do']
    rec.step_ms = ms() - started
    out.steps[index] = rec
  end
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  out.fatal = tostring(err)
  quit(2)
else
  quit(0)
end
