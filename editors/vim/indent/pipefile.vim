" Vim indent file for Pipefile (pyrule's workflow language):
" indent after a line that ends with ':' (rule headers, sections, Make-style rules, Python
" blocks), keep the indentation otherwise.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetPipefileIndent(v:lnum)
setlocal indentkeys=!^F,o,O,<:>
setlocal autoindent
let b:undo_indent = 'setlocal indentexpr< indentkeys< autoindent<'

if exists('*GetPipefileIndent')
  finish
endif

function! GetPipefileIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let ind = indent(prev)
  " the previous line without a trailing comment ('#' outside quotes)
  let text = substitute(getline(prev), '\s*#[^"'']*$', '', '')
  if text =~# ':\s*$'
    return ind + shiftwidth()
  endif
  " dedent after the last line of a Python block that cannot continue
  if text =~# '^\s*\%(return\|pass\|break\|continue\|raise\)\>'
    return max([ind - shiftwidth(), 0])
  endif
  return ind
endfunction
