;;; pipefile-mode.el --- Major mode for Pipefiles -*- lexical-binding: t; -*-

;; Version: 0.1.0 Package-Requires: ((emacs "26.1")) Keywords: languages, tools
;; URL: https://github.com/pyrule/pyrule

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A major mode for Pipefiles, the workflow files of pyrule (a
;; Make/Snakemake-like runner).
;;
;; It highlights rule and checkpoint headers, rule names, sections, docstrings,
;; comments, `?=' and `=' assignments, `include', `default', `python:' blocks,
;; Make-style short rules and their paths, wildcards (`{sample}', `{n,[0-9]+}')
;; in paths and section strings, and pyrule's substitutions (`{input}',
;; `{output[0]}', `{params.x}') in shell bodies -- but not `${HOME}', `{a,b}'
;; or awk's `{print $1}'.  Shell and Python bodies get the keywords, builtins
;; and variables of their language.  A body is raw text that ends where the
;; indentation ends, as in pyrule's parser: an unclosed quote in a body never
;; colours the rest of the file.
;;
;; Indentation: after a line that ends with `:' the next line is indented by
;; `pipefile-indent-offset'; otherwise it keeps the previous line's
;; indentation.  Pressing TAB again cycles to shallower indentations.
;;
;; Install: put this file in a directory on `load-path' and add (require
;; 'pipefile-mode). Files named Pipefile, *.pipe and *.pipefile then open in
;; `pipefile-mode'.

;;; Code:

(require 'rx)

(defgroup pipefile nil
  "Major mode for pyrule's Pipefiles."
  :group 'languages
  :prefix "pipefile-")

(defcustom pipefile-indent-offset 4
  "Indentation of a block relative to the line that opens it."
  :type 'integer
  :safe #'integerp)

(defface pipefile-section-face '((t :inherit font-lock-keyword-face))
  "Face for rule sections such as `output:' and `shell:'.")

(defface pipefile-operator-face '((t :inherit font-lock-keyword-face))
  "Face for the assignment operators `=' and `?='.")

(defface pipefile-path-face '((t :inherit font-lock-string-face))
  "Face for bare paths of `default:' and Make-style short rules.")

(defface pipefile-wildcard-face '((t :inherit font-lock-variable-name-face))
  "Face for wildcards such as `{sample}' in paths and strings.")

(defface pipefile-wildcard-regex-face
  '((t :inherit font-lock-regexp-grouping-construct))
  "Face for the regular expression of a wildcard such as `{n,[0-9]+}'.")

(defface pipefile-substitution-face '((t :inherit font-lock-preprocessor-face))
  "Face for substitutions such as `{input}' in shell bodies.")

(defface pipefile-escape-face '((t :inherit font-lock-constant-face))
  "Face for `{{' and `}}', which stand for one literal brace.")

;;;; Keywords.
;; tests/editors/test_keywords.py checks these against grammar/pipefile.lark.

(eval-and-compile
  (defconst pipefile-statement-keywords
    '("rule" "checkpoint" "default" "include" "configfile" "container" "import" "from" "python")
    "Keywords that start a top-level statement.")

  (defconst pipefile-expression-sections
    '("output" "input" "params" "resources" "slurm" "log" "check" "retries"
      "priority" "env" "script" "local" "cache" "container" "venv" "group")
    "Rule sections whose value is a Python expression.")

  (defconst pipefile-body-sections '("shell" "python")
    "Rule sections whose value is a body (raw shell or Python code).")

  (defconst pipefile-python-keywords
    '("False" "None" "True" "and" "as" "assert" "async" "await" "break"
      "class" "continue" "def" "del" "elif" "else" "except" "finally" "for"
      "from" "global" "if" "import" "in" "is" "lambda" "nonlocal" "not" "or"
      "pass" "raise" "return" "try" "while" "with" "yield")
    "Python keywords, highlighted in Python bodies and expressions.")

  (defconst pipefile-python-builtins
    '("abs" "all" "any" "bool" "dict" "enumerate" "filter" "float" "int"
      "isinstance" "len" "list" "map" "max" "min" "open" "print" "range" "repr"
      "reversed" "set" "sorted" "str" "sum" "tuple" "type" "zip"
      ;; pyrule's helpers
      "expand" "temp" "protected" "directory" "shell" "report" "config"
      "upto" "attempt" "ancient" "multiext" "touch" "glob_wildcards" "workflow"
      "values")
    "Python builtins and pyrule helpers, highlighted in Python code.")

  (defconst pipefile-shell-keywords
    '("if" "then" "else" "elif" "fi" "for" "in" "do" "done" "while" "until"
      "case" "esac" "function" "select" "time")
    "Shell reserved words, highlighted in shell bodies.")

  (defconst pipefile-shell-builtins
    '("alias" "break" "builtin" "cd" "command" "continue" "declare" "echo"
      "eval" "exec" "exit" "export" "false" "getopts" "hash" "local" "printf"
      "pwd" "read" "readonly" "return" "set" "shift" "source" "test" "trap"
      "true" "type" "ulimit" "umask" "unset" "wait")
    "Shell builtins, highlighted in shell bodies."))

(defconst pipefile--name-re "[A-Za-z_][A-Za-z0-9_]*")

(defconst pipefile--rule-header-re
  (concat "^\\(rule\\|checkpoint\\)[ \t]+\\(" pipefile--name-re
          "\\)[ \t]*\\(:\\)"))

(defconst pipefile--section-re
  (concat "^[ \t]+\\(" pipefile--name-re "\\)[ \t]*\\(:\\)")
  "A line that may open a rule section; group 1 is its name.")

(defconst pipefile--assignment-re
  (concat "^\\(" pipefile--name-re "\\)[ \t]*\\(\\?=\\|=\\)\\(?:[^=]\\|$\\)"))

(defconst pipefile--wildcard-re
  (concat "{\\(" pipefile--name-re
          "\\)\\(?:,\\(\\(?:[^{}\n]\\|{[^{}\n]*}\\)*\\)\\)?}")
  "A wildcard: {name} or {name,regex}.")

(defconst pipefile--substitution-re
  (concat "{" pipefile--name-re
          "\\(?:\\." pipefile--name-re "\\|\\[[^][{}[:space:]]*\\]\\)*}")
  "A substitution in a shell body: a brace holding a name, attribute or index.")

(defconst pipefile--path-re "\\(?:[^][:space:]:#\"'=?{}\n]\\|{[^}\n]*}\\)+"
  "A bare path in `default:' or a Make-style rule header.")

;;;; Where is a position?
;; Pipefiles are structured by indentation, as the parser sees them.

(defun pipefile--blank-line-p ()
  "Non-nil if the current line is blank or holds only a comment."
  (save-excursion
    (beginning-of-line)
    (looking-at-p "[ \t]*\\(?:#.*\\)?$")))

(defun pipefile--top-level-kind ()
  "What the statement on the current line (in column 0) is."
  (save-excursion
    (beginning-of-line)
    (cond ((looking-at-p pipefile--rule-header-re) 'rule)
          ((looking-at-p "python[ \t]*:") 'python-block)
          ((looking-at-p "default[ \t]*:") 'default)
          ((looking-at-p "include\\_>\\|\\(?:configfile\\|cache\\|container\\)[ \t]*:") 'include)
          ((looking-at-p "\\(?:import\\|from\\)\\_>") 'import)
          ((looking-at-p pipefile--assignment-re) 'assignment)
          ((and (looking-at-p "[^ \t\n#]") (pipefile--header-colon))
           'short-rule)
          (t nil))))

(defun pipefile--header-colon ()
  "Position of the colon after the outputs of a Make-style rule, or nil."
  (save-excursion
    (beginning-of-line)
    (let ((eol (line-end-position)) (found nil))
      (while (and (not found) (< (point) eol))
        (let ((c (char-after)))
          (cond ((memq c '(?\" ?\'))
                 (forward-char)
                 (while (and (< (point) eol) (not (eq (char-after) c)))
                   (forward-char (if (eq (char-after) ?\\) 2 1)))
                 (forward-char))
                ((eq c ?{) (skip-chars-forward "^}\n") (forward-char))
                ((eq c ?#) (goto-char eol))
                ((and (eq c ?:) (not (eq (char-after (1+ (point))) ?=)))
                 (setq found (point)))
                (t (forward-char)))))
      found)))

(defun pipefile--section-kind (name)
  "The kind of region the value of section NAME is."
  (cond ((equal name "shell") 'shell)
        ((equal name "python") 'python)
        (t 'expression)))

(defun pipefile--owner ()
  "The line that opens the block holding the current (indented) line.
Returns (KIND . POS): KIND is `rule', `python-block', `short-rule',
`assignment', `include', `import' or `default' for a top-level owner,
`section' for a rule section (POS at its line), or nil."
  (save-excursion
    (beginning-of-line)
    (let ((indent (current-indentation)) (result nil) (done nil))
      (while (and (not done) (zerop (forward-line -1)))
        (unless (pipefile--blank-line-p)
          (let ((ind (current-indentation)))
            (when (< ind indent)
              (cond ((zerop ind)
                     (setq result (cons (pipefile--top-level-kind) (point))
                           done t))
                    ((and (looking-at pipefile--section-re)
                          (equal (car (pipefile--owner)) 'rule))
                     (setq result (cons 'section (point)) done t))
                    (t (setq indent ind)))))))
      result)))

(defun pipefile--context (&optional pos)
  "What POS (default: point) is in.
One of `shell' or `python' (a body), `expression' (a section value),
`assignment', `include', `import', `default', `short-rule' (a Make-style
rule header), `rule' (a rule header or a line directly in a rule: a section
name or the docstring), or nil."
  (save-excursion
    (when pos (goto-char pos))
    (let ((pos (point)))
      (beginning-of-line)
      (if (not (memq (char-after) '(?\s ?\t)))
          (pipefile--top-level-kind)
        (let* ((owner (pipefile--owner)) (kind (car owner)))
          (pcase kind
            ('rule
             (if (and (looking-at pipefile--section-re)
                      (member (match-string 1)
                              (append pipefile-expression-sections
                                      pipefile-body-sections))
                      (>= pos (match-end 2)))
                 (pipefile--section-kind (match-string 1))
               'rule))
            ('section
             (goto-char (cdr owner))
             (looking-at pipefile--section-re)
             (pipefile--section-kind (match-string 1)))
            ('python-block 'python)
            ('short-rule 'shell)
            ((or 'assignment 'include 'import) kind)
            (_ nil)))))))

(defun pipefile--in-comment-or-string ()
  "Non-nil if point is in a comment or a string."
  (let ((ppss (syntax-ppss))) (or (nth 3 ppss) (nth 4 ppss))))

;;;; Syntax: strings and comments; bodies are made self-contained.

(defvar pipefile-mode-syntax-table
  (let ((table (make-syntax-table)))
    (modify-syntax-entry ?# "<" table)
    (modify-syntax-entry ?\n ">" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?\' "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    (modify-syntax-entry ?_ "_" table)
    (dolist (c '(?- ?. ?/ ?* ?+ ?= ?< ?> ?| ?& ?% ?? ?: ?, ?$ ?! ?@ ?~ ?^ ?`))
      (modify-syntax-entry c "." table))
    table)
  "Syntax table for `pipefile-mode'.")

(defun pipefile--statement-start (pos)
  "Start of the top-level statement holding POS."
  (save-excursion
    (goto-char pos)
    (beginning-of-line)
    (while (and (not (bobp))
                (or (memq (char-after) '(?\s ?\t ?\n ?#)) (eobp)))
      (forward-line -1))
    (point)))

(defun pipefile--statement-end (pos)
  "Start of the first top-level statement after the line of POS."
  (save-excursion
    (goto-char pos)
    (forward-line 1)
    (while (and (not (eobp)) (memq (char-after) '(?\s ?\t ?\n ?#)))
      (forward-line 1))
    (point)))

(defun pipefile--syntax-propertize-extend-region (start end)
  "Widen START..END to whole statements, so that bodies are seen whole."
  (let ((nstart (pipefile--statement-start start))
        (nend (pipefile--statement-end (max start (1- end)))))
    (unless (and (= nstart start) (= nend end))
      (cons nstart nend))))

(defun pipefile--body-end (indent)
  "End of the body that starts on the line after point, opened at INDENT.
The body goes on over blank lines, comment lines (as in the parser, a
comment line never ends a block) and lines indented deeper than INDENT;
trailing blank and comment lines are left out."
  (save-excursion
    (end-of-line)
    (let ((last (point)))
      (while (and (zerop (forward-line 1)) (not (eobp))
                  (or (looking-at-p "[ \t]*$")
                      (> (current-indentation) indent)
                      (looking-at-p "[ \t]*#")))
        (unless (looking-at-p "[ \t]*\\(?:#.*\\)?$")
          (setq last (line-end-position))))
      last)))

(defun pipefile--bodies (start end)
  "The bodies (BEG END KIND) that begin between START and END."
  (let (bodies)
    (save-excursion
      (goto-char start)
      (beginning-of-line)
      (while (< (point) end)
        (let* ((section (and (looking-at "[ \t]+\\(shell\\|python\\)[ \t]*:")
                             (eq (car (pipefile--owner)) 'rule)))
               (beg (if section (match-end 0) (line-end-position)))
               (kind (cond (section (pipefile--section-kind (match-string 1)))
                           ((looking-at-p "python[ \t]*:") 'python)
                           ((eq (pipefile--top-level-kind) 'short-rule)
                            'shell))))
          (when kind
            (push (list beg (pipefile--body-end (current-indentation)) kind)
                  bodies)))
        (forward-line 1)))
    (nreverse bodies)))

(defun pipefile--stringify-triple-quote ()
  "Make the triple quote before point a string fence, as python.el does."
  (let* ((qstart (- (point) 3))
         (ppss (save-excursion (syntax-ppss qstart)))
         (string-start (and (eq t (nth 3 ppss)) (nth 8 ppss))))
    (cond ((or (nth 4 ppss) (and (nth 3 ppss) (not string-start))) nil)
          ((memq (pipefile--context qstart) '(shell)) nil)
          ((null string-start)
           (put-text-property qstart (1+ qstart)
                              'syntax-table (string-to-syntax "|")))
          ((eq (char-after string-start) (char-after qstart))
           (put-text-property (1- (point)) (point)
                              'syntax-table (string-to-syntax "|"))))))

(defun pipefile--close-body (beg end)
  "Make sure no string opened in the body BEG..END runs past END.
A quote that opens a string the body does not close is made punctuation."
  (let ((tries 0) state)
    (while (and (< tries 50)
                (progn (setq state (parse-partial-sexp beg end)) (nth 3 state)))
      (let ((open (nth 8 state)))
        (put-text-property open (1+ open) 'syntax-table (string-to-syntax "."))
        (setq tries (1+ tries))))))

(defun pipefile-syntax-propertize (start end)
  "Apply syntax properties between START and END."
  (goto-char start)
  (funcall
   (syntax-propertize-rules
    ("\"\"\"\\|'''" (0 (ignore (pipefile--stringify-triple-quote))))
    ;; in shell, `#' starts a comment only at the start of a word: $#, ${#a},
    ;; a#b are not
    ("[^ \t\n;&|(]\\(#\\)"
     (1 (and (eq (pipefile--context (match-beginning 1)) 'shell)
             (string-to-syntax ".")))))
   start end)
  (dolist (body (pipefile--bodies start end))
    (pipefile--close-body (nth 0 body) (nth 1 body))))

;;;; Font lock.

(defun pipefile--docstring-p (pos)
  "Non-nil if the string that starts at POS is a rule's docstring."
  (save-excursion
    (goto-char pos)
    (skip-chars-backward "rRuU")
    (and (memq (char-before) '(?\s ?\t))
         (progn (skip-chars-backward " \t") (bolp))
         (eq (pipefile--context) 'rule))))

(defun pipefile-syntactic-face (state)
  "The face of the string or comment described by the parse STATE."
  (cond ((nth 3 state)
         (if (pipefile--docstring-p (nth 8 state))
             'font-lock-doc-face
           'font-lock-string-face))
        (t 'font-lock-comment-face)))

(defmacro pipefile--matcher (name regexp test)
  "Define NAME, a font-lock matcher for REGEXP where TEST holds.
TEST runs with point at the start of the match; `md' holds the match data."
  (declare (indent 2))
  `(defun ,name (limit)
     (let ((found nil))
       (while (and (not found) (re-search-forward ,regexp limit t))
         (let ((md (match-data)))
           (ignore md)
           (save-excursion
             (save-match-data
               (goto-char (match-beginning 0))
               (setq found ,test)))))
       found)))

(defun pipefile--md (md n)
  "The text of group N of the match data MD."
  (save-match-data
    (set-match-data md)
    (match-string-no-properties n)))

(pipefile--matcher pipefile--match-section pipefile--section-re
  (and (eq (pipefile--context) 'rule) (not (pipefile--in-comment-or-string))))

(pipefile--matcher pipefile--match-wildcard pipefile--wildcard-re
  (let ((ctx (pipefile--context)) (ppss (syntax-ppss)))
    (and (not (nth 4 ppss))
         (or (and (eq ctx 'expression) (nth 3 ppss)
                  (not (memq (char-before (nth 8 ppss)) '(?f ?F))))
             (memq ctx '(short-rule default))))))

(pipefile--matcher pipefile--match-path pipefile--path-re
  (let ((ctx (pipefile--context)))
    (and (memq ctx '(short-rule default))
         (not (pipefile--in-comment-or-string))
         (not (and (eq ctx 'default) (bolp))))))

(pipefile--matcher pipefile--match-substitution pipefile--substitution-re
  (and (not (memq (char-before) '(?$ ?{)))
       (not (eq (char-after (nth 1 md)) ?}))
       (eq (pipefile--context) 'shell)))

(pipefile--matcher pipefile--match-escape "{{\\|}}"
  (let ((ctx (pipefile--context)))
    (or (eq ctx 'shell)
        (and (memq ctx '(expression short-rule default))
             (nth 3 (syntax-ppss))))))

(defconst pipefile--python-contexts
  '(python expression assignment include import))

(pipefile--matcher pipefile--match-python-keyword
    (eval-when-compile
      (concat "\\_<" (regexp-opt pipefile-python-keywords t) "\\_>"))
  (and (memq (pipefile--context) pipefile--python-contexts)
       (not (pipefile--in-comment-or-string))))

(pipefile--matcher pipefile--match-python-builtin
    (eval-when-compile
      (concat "\\_<" (regexp-opt pipefile-python-builtins t) "\\_>"))
  (and (memq (pipefile--context) pipefile--python-contexts)
       (not (eq (char-before) ?.))
       (not (pipefile--in-comment-or-string))))

(pipefile--matcher pipefile--match-python-def
    (concat "\\_<\\(?:def\\|class\\)[ \t]+\\(" pipefile--name-re "\\)")
  (and (eq (pipefile--context) 'python) (not (pipefile--in-comment-or-string))))

(defun pipefile--shell-word-p ()
  "Non-nil if point starts a shell word (not in a string, comment or path)."
  (and (not (memq (char-before) '(?- ?. ?/ ?$ ?=)))
       (eq (pipefile--context) 'shell)
       (not (pipefile--in-comment-or-string))))

(pipefile--matcher pipefile--match-shell-keyword
    (eval-when-compile
      (concat "\\_<" (regexp-opt pipefile-shell-keywords t) "\\_>"))
  (and (not (memq (char-after (nth 1 md)) '(?- ?. ?/ ?=)))
       (pipefile--shell-word-p)))

(pipefile--matcher pipefile--match-shell-builtin
    (eval-when-compile
      (concat "\\_<" (regexp-opt pipefile-shell-builtins t) "\\_>"))
  (and (not (memq (char-after (nth 1 md)) '(?- ?. ?/ ?=)))
       (pipefile--shell-word-p)))

(pipefile--matcher pipefile--match-shell-variable
    "\\$\\(?:{[^}\n]*}\\|[A-Za-z_][A-Za-z0-9_]*\\|[0-9#?$!@*-]\\)"
  (and (eq (pipefile--context) 'shell)
       (let ((ppss (syntax-ppss)))
         (and (not (nth 4 ppss))
              (or (not (nth 3 ppss)) (eq (char-after (nth 8 ppss)) ?\"))))))

(pipefile--matcher pipefile--match-unknown-section pipefile--section-re
  (and (not (member (pipefile--md md 1) (append pipefile-expression-sections
                                                pipefile-body-sections)))
       (eq (pipefile--context) 'rule)
       (not (pipefile--in-comment-or-string))))

(defconst pipefile-font-lock-keywords
  `(;; top-level statements
    (,pipefile--rule-header-re
     (1 font-lock-keyword-face) (2 font-lock-function-name-face))
    ("^\\(python\\|default\\)[ \t]*:" (1 font-lock-keyword-face))
    ("^\\(include\\)\\_>" (1 font-lock-keyword-face))
    ("^\\(configfile\\|cache\\|container\\)[ \t]*:" (1 font-lock-keyword-face))
    ("^\\(import\\|from\\)\\_>" (1 font-lock-keyword-face))
    (,pipefile--assignment-re
     (1 font-lock-variable-name-face) (2 'pipefile-operator-face))
    ;; rules
    (pipefile--match-section (1 'pipefile-section-face))
    (pipefile--match-unknown-section (1 font-lock-warning-face t))
    (pipefile--match-path (0 'pipefile-path-face))
    ;; embedded Python
    (pipefile--match-python-keyword (1 font-lock-keyword-face))
    (pipefile--match-python-builtin (1 font-lock-builtin-face))
    (pipefile--match-python-def (1 font-lock-function-name-face))
    ;; embedded shell
    (pipefile--match-shell-keyword (1 font-lock-keyword-face))
    (pipefile--match-shell-builtin (1 font-lock-builtin-face))
    (pipefile--match-shell-variable (0 font-lock-variable-name-face t))
    ;; pyrule's braces
    (pipefile--match-wildcard
     (0 'pipefile-wildcard-face t) (2 'pipefile-wildcard-regex-face t t))
    (pipefile--match-substitution (0 'pipefile-substitution-face t))
    (pipefile--match-escape (0 'pipefile-escape-face t)))
  "Font-lock keywords of `pipefile-mode'.")

(defvar font-lock-beg)
(defvar font-lock-end)

(defun pipefile--font-lock-extend-region ()
  "Fontify whole statements: what a line means depends on the lines above it."
  (let ((beg (pipefile--statement-start font-lock-beg))
        (end (pipefile--statement-end (max font-lock-beg (1- font-lock-end)))))
    (when (or (< beg font-lock-beg) (> end font-lock-end))
      (setq font-lock-beg (min beg font-lock-beg)
            font-lock-end (max end font-lock-end))
      t)))

;;;; Indentation.

(defun pipefile--code-end (pos)
  "Text of the line at POS without a trailing comment."
  (save-excursion
    (goto-char pos)
    (end-of-line)
    (let ((ppss (syntax-ppss)))
      (when (nth 4 ppss) (goto-char (nth 8 ppss))))
    (skip-chars-backward " \t")
    (point)))

(defun pipefile-calculate-indentation ()
  "The indentation the current line should have."
  (save-excursion
    (beginning-of-line)
    (let ((prev nil))
      (while (and (not prev) (zerop (forward-line -1)))
        (unless (looking-at-p "[ \t]*$") (setq prev (point))))
      (if (not prev)
          0
        (goto-char prev)
        (let ((end (pipefile--code-end prev)))
          (if (and (> end (line-beginning-position)) (eq (char-before end) ?:))
              (+ (current-indentation) pipefile-indent-offset)
            (current-indentation)))))))

(defun pipefile-indent-line ()
  "Indent the current line.
Repeating the command cycles to shallower indentations, as in Python."
  (interactive)
  (let* ((computed (pipefile-calculate-indentation))
         (current (current-indentation))
         (target (if (and (eq this-command last-command)
                          (memq this-command
                                '(indent-for-tab-command pipefile-indent-line))
                          (> current 0) (<= current computed))
                     (max 0 (- current pipefile-indent-offset))
                   computed)))
    (if (<= (current-column) current)
        (indent-line-to target)
      (save-excursion (indent-line-to target)))))

;;;; The mode.

(defvar pipefile-mode-map
  (let ((map (make-sparse-keymap)))
    map)
  "Keymap for `pipefile-mode'.")

;;;###autoload
(define-derived-mode pipefile-mode prog-mode "Pipefile"
  "Major mode for editing pyrule's Pipefiles.

\\{pipefile-mode-map}"
  :syntax-table pipefile-mode-syntax-table
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+[ \t]*")
  (setq-local comment-end "")
  (setq-local indent-tabs-mode nil)
  (setq-local tab-width 8)
  (setq-local indent-line-function #'pipefile-indent-line)
  (setq-local syntax-propertize-function #'pipefile-syntax-propertize)
  (add-hook 'syntax-propertize-extend-region-functions
            #'pipefile--syntax-propertize-extend-region nil t)
  (setq-local font-lock-defaults
              '(pipefile-font-lock-keywords
                nil nil nil nil
                (font-lock-syntactic-face-function . pipefile-syntactic-face)))
  (add-hook 'font-lock-extend-region-functions
            #'pipefile--font-lock-extend-region nil t)
  (setq-local imenu-generic-expression
              `((nil ,(concat "^\\(?:rule\\|checkpoint\\)[ \t]+\\("
                              pipefile--name-re "\\)")
                     1))))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\(?:\\`\\|/\\)Pipefile\\'" . pipefile-mode))
;;;###autoload
(add-to-list 'auto-mode-alist '("\\.pipe\\'" . pipefile-mode))
;;;###autoload
(add-to-list 'auto-mode-alist '("\\.pipefile\\'" . pipefile-mode))

(provide 'pipefile-mode)

;;; pipefile-mode.el ends here
