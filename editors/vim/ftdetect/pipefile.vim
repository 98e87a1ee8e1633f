" Pipefile (pyrule) files: Pipefile, *.pipe, *.pipefile
autocmd BufNewFile,BufRead Pipefile,*.pipe,*.pipefile setfiletype pipefile
