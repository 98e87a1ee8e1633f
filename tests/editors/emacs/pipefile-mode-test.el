;;; pipefile-mode-test.el --- ERT tests for pipefile-mode -*- lexical-binding: t; -*-

;; Run from the repository root:
;;   emacs --batch -Q -L editors/emacs -l ert -l tests/editors/emacs/pipefile-mode-test.el \
;;         -f ert-run-tests-batch-and-exit
;; tests/editors/test_emacs.py runs this file and also hands it, in the environment variable
;; PIPEFILE_TEST_CASES, the constructs every editor must highlight (tests/editors/editor_support.py).

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'subr-x)
(require 'pipefile-mode)

(defconst pipefile-test-category-faces
  '((comment font-lock-comment-face font-lock-comment-delimiter-face)
    (keyword font-lock-keyword-face)
    (section pipefile-section-face)
    (rule-name font-lock-function-name-face)
    (docstring font-lock-doc-face)
    (string font-lock-string-face font-lock-doc-face)
    (path pipefile-path-face)
    (wildcard pipefile-wildcard-face)
    (wildcard-regex pipefile-wildcard-regex-face)
    (substitution pipefile-substitution-face)
    (escape pipefile-escape-face)
    (operator pipefile-operator-face)
    (variable font-lock-variable-name-face)
    (py-keyword font-lock-keyword-face)
    (sh-builtin font-lock-builtin-face)
    (sh-variable font-lock-variable-name-face))
  "The faces of each category of construct (see tests/editors/editor_support.py).")

(defconst pipefile-test-category-contexts
  '((shell-body . shell) (python-body . python))
  "Categories that say which language a body is in.")

(defun pipefile-test--faces (pos)
  "The faces at POS, as a list."
  (let ((face (get-text-property pos 'face)))
    (if (listp face) face (list face))))

(defun pipefile-test--in-category-p (category pos)
  "Non-nil if the character at POS is highlighted as CATEGORY."
  (let ((context (assq category pipefile-test-category-contexts)))
    (if context
        (eq (pipefile--context pos) (cdr context))
      (let ((faces (or (cdr (assq category pipefile-test-category-faces))
                       (error "Unknown category %s" category))))
        (cl-some (lambda (face) (memq face faces)) (pipefile-test--faces pos))))))

(defmacro pipefile-test-with-text (text &rest body)
  "Run BODY in a fontified `pipefile-mode' buffer holding TEXT."
  (declare (indent 1))
  `(with-temp-buffer
     (insert ,text)
     (pipefile-mode)
     (font-lock-ensure)
     (goto-char (point-min))
     ,@body))

(defun pipefile-test--pos (line col)
  "Position of LINE (1-based) and COL (0-based)."
  (save-excursion
    (goto-char (point-min))
    (forward-line (1- line))
    (+ (point) col)))

(defun pipefile-test--check (line col len category text)
  "A failure message if LINE:COL..COL+LEN is not (or, with a `!', is) in CATEGORY."
  (let* ((name (symbol-name category))
         (negative (string-prefix-p "!" name))
         (cat (intern (string-remove-prefix "!" name)))
         (bad nil))
    (dotimes (i len)
      (let ((pos (pipefile-test--pos line (+ col i))))
        (unless (or bad (memq (char-after pos) '(?\s ?\t)))
          (when (if negative
                    (pipefile-test--in-category-p cat pos)
                  (not (pipefile-test--in-category-p cat pos)))
            (setq bad (format "%d:%d %S should %sbe %s; got faces %S, context %S"
                              line (1+ col) text (if negative "not " "") cat
                              (pipefile-test--faces pos) (pipefile--context pos)))))))
    bad))

(defun pipefile-test--face-of (text needle &optional nth)
  "The faces at the start of the NTH occurrence of NEEDLE in a buffer of TEXT."
  (pipefile-test-with-text text
    (dotimes (_ (1+ (or nth 0))) (search-forward needle))
    (pipefile-test--faces (match-beginning 0))))

;;;; The constructs every engine must highlight (from the Python test driver).

(ert-deftest pipefile-mode-shared-cases ()
  "Every case in the file named by PIPEFILE_TEST_CASES: (FILE LINE COL LEN CATEGORY TEXT)."
  (let ((file (getenv "PIPEFILE_TEST_CASES"))
        (buffers (make-hash-table :test #'equal))
        (failures nil))
    (unless file (ert-skip "PIPEFILE_TEST_CASES is not set (tests/editors/test_emacs.py sets it)"))
    (dolist (case (with-temp-buffer (insert-file-contents file) (read (current-buffer))))
      (pcase-let ((`(,path ,line ,col ,len ,category ,text) case))
        (let ((buffer (or (gethash path buffers)
                          (puthash path (with-current-buffer (generate-new-buffer path)
                                          (insert-file-contents path)
                                          (pipefile-mode)
                                          (font-lock-ensure)
                                          (current-buffer))
                                   buffers))))
          (with-current-buffer buffer
            (let ((bad (pipefile-test--check line col len category text)))
              (when bad (push (format "%s:%s" (file-name-nondirectory path) bad) failures)))))))
    ;; and nothing in those files is marked as a mistake
    (maphash (lambda (path buffer)
               (with-current-buffer buffer
                 (let ((pos (text-property-any (point-min) (point-max)
                                               'face 'font-lock-warning-face)))
                   (when pos
                     (push (format "%s:%d: marked as an error" (file-name-nondirectory path)
                                   (line-number-at-pos pos))
                           failures)))))
             buffers)
    (maphash (lambda (_ buffer) (kill-buffer buffer)) buffers)
    (should (equal (nreverse failures) nil))))

;;;; The mode itself.

(ert-deftest pipefile-mode-auto-mode-alist ()
  (dolist (name '("/work/Pipefile" "Pipefile" "/x/rules.pipe" "/x/more.pipefile"))
    (should (eq (assoc-default name auto-mode-alist #'string-match) 'pipefile-mode)))
  (dolist (name '("/work/Pipefile.lock" "/x/pipe" "/x/Pipfile"))
    (should-not (eq (assoc-default name auto-mode-alist #'string-match) 'pipefile-mode))))

(ert-deftest pipefile-mode-derives-from-prog-mode ()
  (with-temp-buffer
    (pipefile-mode)
    (should (derived-mode-p 'prog-mode))
    (should (equal comment-start "# "))))

(ert-deftest pipefile-mode-comment-syntax ()
  (pipefile-test-with-text "rule a:\n    shell: true\n"
    (comment-region (point-min) (point-max))
    (should (equal (buffer-string) "# rule a:\n#     shell: true\n"))
    (uncomment-region (point-min) (point-max))
    (should (equal (buffer-string) "rule a:\n    shell: true\n")))
  (pipefile-test-with-text "X = \"a#b\"  # real\n"
    (should (nth 4 (syntax-ppss (+ (point-min) (string-match "# real" (buffer-string)) 1))))
    (should-not (nth 4 (syntax-ppss (+ (point-min) (string-match "#b" (buffer-string)) 1))))))

(ert-deftest pipefile-mode-indents-after-colon ()
  (with-temp-buffer
    (pipefile-mode)
    (insert "rule count:")
    (newline-and-indent)
    (should (= (current-indentation) 4))
    (insert "output: 'x'  # a comment: here")
    (newline-and-indent)
    (should (= (current-indentation) 4))
    (insert "shell:")
    (newline-and-indent)
    (should (= (current-indentation) 8))
    (insert "echo a: b")
    (newline-and-indent)
    (should (= (current-indentation) 8))
    ;; TAB again cycles to shallower indentations
    (let ((this-command 'indent-for-tab-command) (last-command 'indent-for-tab-command))
      (indent-for-tab-command)
      (should (= (current-indentation) 4))
      (indent-for-tab-command)
      (should (= (current-indentation) 0)))))

(ert-deftest pipefile-mode-faces ()
  (let ((text (concat "MIN ?= 3  # c\n"
                      "rule count:\n"
                      "    \"\"\"Doc: # not a comment.\"\"\"\n"
                      "    output: \"c/{s}.tsv\"\n"
                      "    shell:\n"
                      "        awk '{print $1}' {input} > ${HOME}/{output[0]}\n")))
    (should (memq 'font-lock-keyword-face (pipefile-test--face-of text "rule")))
    (should (memq 'font-lock-function-name-face (pipefile-test--face-of text "count")))
    (should (memq 'pipefile-operator-face (pipefile-test--face-of text "?=")))
    (should (memq 'font-lock-doc-face (pipefile-test--face-of text "# not")))
    (should (memq 'pipefile-section-face (pipefile-test--face-of text "output")))
    (should (memq 'pipefile-wildcard-face (pipefile-test--face-of text "{s}")))
    (should (memq 'pipefile-section-face (pipefile-test--face-of text "shell")))
    (should-not (memq 'pipefile-substitution-face (pipefile-test--face-of text "{print")))
    (should (memq 'pipefile-substitution-face (pipefile-test--face-of text "{input}")))
    (should-not (memq 'pipefile-substitution-face (pipefile-test--face-of text "{HOME}")))
    (should (memq 'pipefile-substitution-face (pipefile-test--face-of text "{output[0]}")))))

(ert-deftest pipefile-mode-unclosed-quote-ends-with-its-body ()
  (let ((text "rule a:\n    shell:\n        echo \"never closed\n    output: \"x\"\nrule b:\n    shell: true\n"))
    (should (memq 'pipefile-section-face (pipefile-test--face-of text "output")))
    (should (memq 'font-lock-string-face (pipefile-test--face-of text "\"x\"")))
    (should (memq 'font-lock-keyword-face (pipefile-test--face-of text "rule" 1)))))

(ert-deftest pipefile-mode-unknown-section-warns ()
  (should (memq 'font-lock-warning-face
                (pipefile-test--face-of "rule a:\n    outptu: \"x\"\n" "outptu"))))

(provide 'pipefile-mode-test)

;;; pipefile-mode-test.el ends here
