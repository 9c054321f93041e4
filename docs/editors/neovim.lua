-- paramlens in Neovim (0.7 or newer), with no plugins.
--
-- Use it as your init.lua, or `dofile()` it from yours; with nvim-lspconfig you can instead
-- register the same `cmd`, `init_options` and `settings` as a custom server.
-- `paramlens` must be on PATH (`pip install paramlens`); the worker runs in the Python named by
-- `interpreter` below (or the PARAMLENS_INTERPRETER environment variable, or paramlens' own).
-- The test suite (tests/clients/test_neovim.py) starts Neovim with exactly this file.

vim.cmd('filetype on')

-- Code lenses: Neovim before 0.10 has no workspace/codeLens/refresh, so ask again on these events.
local function refresh_lenses(args)
  for _, client in pairs(vim.lsp.buf_get_clients(args.buf)) do
    if client.name == 'paramlens' then
      pcall(vim.lsp.codelens.refresh)
      return
    end
  end
end

local config = {
  name = 'paramlens',
  cmd = { 'paramlens', 'serve' },
  init_options = {
    -- interpreter = '/path/to/project/.venv/bin/python',
    inspect = 'onOpen', -- or 'onSave', 'onCommand'
  },
  settings = { paramlens = {} }, -- answered to workspace/configuration
  flags = { debounce_text_changes = 150 },
  on_attach = function(_, bufnr) refresh_lenses({ buf = bufnr }) end,
}

local function root_dir(bufnr)
  local file = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs and vim.fs.find and vim.fs.find(
    { 'pyproject.toml', 'setup.py', '.git' }, { path = vim.fs.dirname(file), upward = true })[1]
  if found then return vim.fn.fnamemodify(found, ':h') end
  return vim.fn.fnamemodify(file, ':p:h')
end

local client_ids = {}

local function attach(args)
  local bufnr = args.buf or vim.api.nvim_get_current_buf()
  local root = root_dir(bufnr)
  if vim.lsp.start then -- 0.8+: reuses a running client with the same name and root
    vim.lsp.start(vim.tbl_extend('force', config, { root_dir = root }), { bufnr = bufnr })
    return
  end
  if not client_ids[root] then
    client_ids[root] = vim.lsp.start_client(vim.tbl_extend('force', config, { root_dir = root }))
  end
  vim.lsp.buf_attach_client(bufnr, client_ids[root])
end

vim.api.nvim_create_autocmd('FileType', { pattern = 'python', callback = attach })
vim.api.nvim_create_autocmd({ 'BufEnter', 'CursorHold', 'InsertLeave', 'BufWritePost' }, {
  pattern = '*.py',
  callback = refresh_lenses,
})

-- K hovers, <leader>ca lists code actions (quick fixes), <leader>cl runs the lens of the line
-- (paramlens.showSummary: the full table).
vim.keymap.set('n', 'K', vim.lsp.buf.hover)
vim.keymap.set('n', '<leader>ca', vim.lsp.buf.code_action)
vim.keymap.set('n', '<leader>cl', vim.lsp.codelens.run)
