;;; paramlens with Emacs' Eglot (Emacs 29+ built in; Emacs 28: `M-x package-install RET eglot`).
;;
;; Add to your init.el. `paramlens' must be on PATH (`pip install paramlens'); the models are
;; built in the Python named by :interpreter (default: paramlens' own interpreter), which needs
;; torch. Hovers (eldoc), diagnostics (Flymake) and code actions (`M-x eglot-code-actions') work
;; as usual. Eglot has no code-lens display; `M-x paramlens-summary' shows the model table the
;; lenses would open, and `paramlens summary FILE' prints it in a terminal.

(require 'eglot)

(add-to-list 'eglot-server-programs
             `((python-mode python-ts-mode)
               . ("paramlens" "serve"
                  :initializationOptions
                  (:inspect "onOpen"
                   ;; :interpreter "/path/to/project/.venv/bin/python"
                   ))))

;; Answered to the server's workspace/configuration request for the section "paramlens".
(setq-default eglot-workspace-configuration
              '(:paramlens (:inspect "onOpen" :loadMode "definitions" :device "meta")))

(add-hook 'python-mode-hook #'eglot-ensure)

(defun paramlens-summary ()
  "Show the parameter table of the models in this file (the server's paramlens.showSummary)."
  (interactive)
  (let* ((server (eglot--current-server-or-lose))
         (text (jsonrpc-request server :workspace/executeCommand
                                `(:command "paramlens.showSummary"
                                  :arguments [,(plist-get (eglot--TextDocumentIdentifier) :uri)]))))
    (with-current-buffer (get-buffer-create "*paramlens summary*")
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert text)
        (goto-char (point-min))
        (when (fboundp 'markdown-mode) (markdown-mode))
        (view-mode 1))
      (display-buffer (current-buffer)))))
