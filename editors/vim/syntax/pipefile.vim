" Vim syntax file
" Language:    Pipefile (pyrule's workflow language)
" Filenames:   Pipefile, *.pipe, *.pipefile
"
" Shell bodies (`shell:` and the lines of a Make-style short rule) are highlighted with
" syntax/sh.vim (bash flavour), Python bodies and Python expressions with syntax/python.vim.
" A body ends where its indentation ends, exactly like pyrule's parser: the regions below end at
" the first line that is not blank, not a comment and not indented deeper than the line that
" opened them (comment lines never end a block, as in the parser), and they are `keepend`, so an
" unclosed quote in a body cannot colour the rest of the file.
" The keywords here are checked against grammar/pipefile.lark by tests/editors/test_keywords.py.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" --- embedded languages ---------------------------------------------------------------------
if !exists('b:is_sh') && !exists('b:is_kornshell') && !exists('b:is_posix')
  let b:is_bash = 1
endif
syntax include @Shell syntax/sh.vim
unlet! b:current_syntax
syntax include @Python syntax/python.vim
unlet! b:current_syntax
" sh.vim makes '-' and ':' keyword characters for its own keywords; Python's `else:` needs ':'
" to be a separator again.
syntax iskeyword clear
syntax case match

" --- pieces used in several places ------------------------------------------------------------
syntax match pipefileTodo contained /\<\%(TODO\|FIXME\|XXX\|NOTE\)\>/
syntax match pipefileComment /#.*$/ contains=pipefileTodo,@Spell

" `{{` and `}}` stand for one literal brace
syntax match pipefileBraceEscape /{{\|}}/ contained
" a wildcard in a path or a string: {name} or {name,regex}
syntax match pipefileWildcard /{\h\w*\%(,\%([^{}]\|{[^{}]*}\)*\)\=}/ contained
      \ contains=pipefileWildcardRegex
syntax match pipefileWildcardRegex /,\zs\%([^{}]\|{[^{}]*}\)*\ze}/ contained
" a substitution in a shell body: a brace holding a name, attribute or index path only; not
" ${HOME}, {a,b} brace expansion or awk's {print $1}
syntax match pipefileSubstitution /\%(\$\|{\)\@1<!{\h\w*\%(\.\h\w*\|\[[^][{}[:space:]]*\]\)*}}\@!/
      \ contained containedin=@Shell
syntax match pipefileShellBraceEscape /{{\|}}/ contained containedin=@Shell

" Python strings in rule sections, where `{name}` is a wildcard (defined after python.vim so
" that they win over pythonString)
syntax region pipefileExprString matchgroup=pipefileQuote oneline
      \ start=/[rRbBuU]\{,2}\%(\<[fFtT][rRbB]\=\|\<[rRbB][fFtT]\)\@3<!\z(['"]\)/ skip=/\\./ end=/\z1/
      \ contains=pythonEscape,pipefileBraceEscape,pipefileWildcard
syntax region pipefileExprString matchgroup=pipefileQuote
      \ start=/[rRbBuU]\{,2}\%(\<[fFtT][rRbB]\=\|\<[rRbB][fFtT]\)\@3<!\z('''\|"""\)/ end=/\z1/ keepend
      \ contains=pythonEscape,pipefileBraceEscape,pipefileWildcard

" Python brackets may span lines in top-level statements
syntax region pipefileBrackets transparent contained
      \ start=/[[({]/ end=/[])}]/ contains=pipefileBrackets,@Python

" targets of `default:` and of a Make-style short rule: bare paths or quoted strings
syntax match pipefilePath contained /\%([^[:space:]:#"'=?{}]\|{[^}]*}\)\+/
      \ contains=pipefileBraceEscape,pipefileWildcard
syntax region pipefileTargetString contained oneline
      \ start=/[rRbBuU]\=\z(["']\)/ skip=/\\./ end=/\z1/
      \ contains=pipefileBraceEscape,pipefileWildcard

syntax match pipefileColon contained
      \ /\%(^\%(python\|default\|configfile\|cache\|container\|\%(rule\|checkpoint\)\s\+\h\w*\|\s\+\%(output\|input\|params\|resources\|slurm\|log\|check\|retries\|priority\|env\|script\|local\|cache\|container\|venv\|group\|shell\|python\)\)\s*\)\@<=:/
" a comment that ends a one-line statement (excludenl: the statement ends with the line)
syntax match pipefileLineComment excludenl /#.*$/ contained contains=pipefileTodo,@Spell

" --- top-level statements -------------------------------------------------------------------
" NAME = expr and NAME ?= expr; brackets may continue the expression on later lines
syntax region pipefileAssignment start=/^\ze\h\w*\s*?\==\@!/ end=/$/
      \ contains=pipefileAssignName,pipefileAssignOp,pipefileBrackets,@Python,pipefileLineComment
syntax match pipefileAssignName contained /^\h\w*/
syntax match pipefileAssignOp contained /\%(^\h\w*\s*\)\@<=?\==/

" import m / from m import x: Python
syntax region pipefileImport matchgroup=pipefileImportKeyword
      \ start=/^\%(import\|from\)\>/ end=/$/ contains=pipefileBrackets,@Python,pipefileLineComment
" include "other.pipe"
syntax region pipefileInclude matchgroup=pipefileIncludeKeyword
      \ start=/^include\>/ end=/$/ contains=pipefileBrackets,@Python,pipefileLineComment
" configfile: "config.yaml", cache: "DIR", container: "IMAGE" (the default container)
syntax region pipefileInclude matchgroup=pipefileIncludeKeyword
      \ start=/^\%(configfile\|cache\|container\)\ze\s*:/ end=/$/ contains=pipefileColon,pipefileBrackets,@Python,pipefileLineComment

" Make-style short rule: outputs, colon, inputs, then shell lines
syntax match pipefileShortHeader
      \ /^\%(\%(rule\|checkpoint\)\s\|\%(python\|default\|configfile\|cache\|container\)\s*:\|\%(include\|import\|from\)\>\|\h\w*\s*?\==\)\@!\%([^[:space:]#:"'{=?]\|"\%([^"\\]\|\\.\)*"\|'\%([^'\\]\|\\.\)*'\|{[^}]*}\)\%([^:#"'{=?]\|"\%([^"\\]\|\\.\)*"\|'\%([^'\\]\|\\.\)*'\|{[^}]*}\)*:=\@!.*$/
      \ contains=pipefilePath,pipefileTargetString,pipefileShortColon,pipefileComment
      \ skipnl skipempty nextgroup=pipefileShortBody
syntax match pipefileShortColon contained /:/
syntax region pipefileShortBody contained start=/^\s/ end=/^\ze[^[:space:]#]/ keepend
      \ contains=@Shell,pipefileSubstitution,pipefileBraceEscape

" default: targets
syntax match pipefileDefault /^default\s*:.*$/
      \ contains=pipefilePath,pipefileTargetString,pipefileColon,pipefileComment,pipefileDefaultKeyword
syntax match pipefileDefaultKeyword contained /^default\>/

" python: + an indented block of Python
syntax region pipefilePythonBlock matchgroup=pipefileStatement
      \ start=/^python\ze\s*:/ end=/^\ze[^[:space:]#]/ keepend contains=pipefileColon,@Python

" rule NAME: / checkpoint NAME:
syntax match pipefileRuleHeader /^\%(rule\|checkpoint\)\s\+\h\w*\s*:/
      \ contains=pipefileRuleKeyword,pipefileRuleName,pipefileColon
syntax match pipefileRuleKeyword contained /^\%(rule\|checkpoint\)\>/
syntax match pipefileRuleName contained /\%(^\%(rule\|checkpoint\)\s\+\)\@<=\h\w*/

" --- inside a rule ----------------------------------------------------------------------------
" anything else that looks like a section is a mistake
syntax match pipefileUnknownSection /^\s\+\zs\h\w*\ze\s*:/

" the docstring: a string at the start of a line in a rule, outside any section
syntax region pipefileDocstring oneline start=/^\s\+\zs[rRuU]\=\z(["']\)/ skip=/\\./ end=/\z1/
      \ contains=pythonEscape,@Spell
syntax region pipefileDocstring start=/^\s\+\zs[rRuU]\=\z("""\|'''\)/ end=/\z1/ keepend
      \ contains=pythonEscape,@Spell

" sections with a Python value: a one-line value or an indented block
syntax region pipefileExprSection matchgroup=pipefileSection
      \ start=/^\z(\s\+\)\zs\%(output\|input\|params\|resources\|slurm\|log\|check\|retries\|priority\|env\|script\|local\|cache\|container\|venv\|group\)\ze\s*:/
      \ end=/^\%(\z1\s\|\s*$\|\s*#\)\@!/ keepend
      \ contains=pipefileColon,pipefileExprString,@Python
" shell: commands, one line or an indented block
syntax region pipefileShellBody matchgroup=pipefileSection
      \ start=/^\z(\s\+\)\zsshell\ze\s*:/
      \ end=/^\%(\z1\s\|\s*$\|\s*#\)\@!/ keepend
      \ contains=pipefileColon,@Shell,pipefileSubstitution,pipefileBraceEscape
" python: statements, one line or an indented block
syntax region pipefilePythonBody matchgroup=pipefileSection
      \ start=/^\z(\s\+\)\zspython\ze\s*:/
      \ end=/^\%(\z1\s\|\s*$\|\s*#\)\@!/ keepend
      \ contains=pipefileColon,@Python

syntax sync fromstart

" --- colours ----------------------------------------------------------------------------------
highlight default link pipefileComment         Comment
highlight default link pipefileLineComment     Comment
highlight default link pipefileTodo            Todo
highlight default link pipefileRuleKeyword     Keyword
highlight default link pipefileRuleName        Function
highlight default link pipefileStatement       Keyword
highlight default link pipefileDefaultKeyword  Keyword
highlight default link pipefileIncludeKeyword  Include
highlight default link pipefileImportKeyword   Include
highlight default link pipefileSection         Statement
highlight default link pipefileUnknownSection  Error
highlight default link pipefileColon           Delimiter
highlight default link pipefileShortColon      Delimiter
highlight default link pipefileDocstring       Comment
highlight default link pipefileExprString      String
highlight default link pipefileQuote           String
highlight default link pipefileTargetString    String
highlight default link pipefilePath            String
highlight default link pipefileWildcard        Identifier
highlight default link pipefileWildcardRegex   Special
highlight default link pipefileSubstitution    Identifier
highlight default link pipefileBraceEscape     SpecialChar
highlight default link pipefileShellBraceEscape SpecialChar
highlight default link pipefileAssignName      Identifier
highlight default link pipefileAssignOp        Operator

let b:current_syntax = 'pipefile'

let &cpo = s:cpo_save
unlet s:cpo_save
