"""`pyrule --convert`: Snakefile constructs and their Pipefile spellings (pyrule/convert.py),
called in this process. Each converted text is also read by pyrule's own parser, except where it
holds a word that the language gains with issue 22 (script:, configfile:), see lang_words()."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pyrule import syntax as S
from pyrule.convert import ConvertError, convert_file, convert_text
from pyrule.parse import grammar_keywords, parse_text


def lang_words() -> bool:
    """True once the language has script: and configfile: (issue 22, branch fix/lang)."""
    kw = grammar_keywords()
    return "script" in kw["sections"] + kw["bodies"] and "configfile" in kw["statements"]


def conv(text: str, **kw):
    result = convert_text(textwrap.dedent(text).lstrip("\n"), **kw)
    return result.text, result.notes


def parses(text: str) -> None:
    parse_text(text, "Pipefile.converted")


def test_rule_sections_named_and_positional():
    text, notes = conv('''
        SAMPLES = ["A", "B"]

        rule map:
            input:
                "data/genome.fa",
                reads="data/{sample}.fastq"
            output:
                temp("mapped/{sample}.bam")
            params:
                rg=r"@RG\\tID:{sample}",
                extra=config.get("x", "")
            log:
                "logs/{sample}.log"
            threads: 8
            resources:
                mem_mb=1000
            shell:
                "bwa mem -t {threads} {input} "
                "| samtools view -Sb - > {output} 2> {log}"
        ''')
    assert notes == []
    assert 'SAMPLES = ["A", "B"]' in text
    assert '        "data/genome.fa",\n        reads = "data/{sample}.fastq",' in text
    assert '    output: temp("mapped/{sample}.bam")' in text
    assert 'rg = r"@RG\\tID:{sample}",' in text and 'extra = config.get("x", ""),' in text
    assert '    log: "logs/{sample}.log"' in text
    assert "    resources:\n        cores = upto(8),\n        mem_mb = 1000," in text
    assert "    shell: bwa mem -t {resources.cores} {input} | samtools view -Sb - > {output} 2> {log}" in text
    parses(text)


def test_multiline_shell_keeps_its_lines_and_relative_indentation():
    text, _ = conv('''
        rule a:
            output: "a.txt"
            shell:
                """
                for i in 1 2; do
                    echo $i
                done > {output}
                """
        ''')
    assert "    shell:\n        for i in 1 2; do\n            echo $i\n        done > {output}\n" in text
    assert parses(text) is None


def test_shell_expression_runs_through_shell_call():
    text, notes = conv('''
        X = "a"
        rule a:
            output: "a.txt"
            shell: f"echo {X} {{threads}} > {{output}}"
        ''')
    assert '    python:\n        shell(f"echo {X} {{threads}} > {{output}}")' in text
    assert [n.line for n in notes] == [4] and notes[0].converted
    parses(text)


def test_run_becomes_python_with_threads():
    text, notes = conv('''
        rule a:
            output: "a.txt"
            threads: 2
            run:
                # a comment in the body
                with open(output[0], "w") as f:
                    f.write(str(threads))
                shell("echo {threads} >> {output}")
        ''')
    assert notes == []
    assert ("    python:\n        threads = resources.cores\n        # a comment in the body\n"
            "        with open(output[0], \"w\") as f:\n            f.write(str(threads))\n"
            "        shell(\"echo {resources.cores} >> {output}\")") in text
    parses(text)


def test_wildcard_constraints_global_and_per_rule_are_written_into_outputs():
    text, notes = conv('''
        rule a:
            output: touch("{name}.out"), "{name}/{n}.txt"
            wildcard_constraints:
                n="[0-9]+"
            shell: "exit 0"

        wildcard_constraints:
            name="test",
        ''')
    assert notes == []
    assert '    output:\n        touch("{name,test}.out"),\n        "{name,test}/{n,[0-9]+}.txt",\n' in text
    assert '# wildcard_constraints:\n#     name="test",' in text
    parses(text)


def test_a_constraint_that_cannot_be_inlined_is_reported():
    _, notes = conv('''
        OUT = "{n}.txt"
        rule a:
            output: OUT
            wildcard_constraints: n="[0-9]+"
            shell: "touch {output}"
        ''')
    assert [(n.line, n.converted) for n in notes] == [(3, True)]
    assert "wildcard constraint 'n'" in notes[0].what


def test_unsupported_constructs_are_comments_and_listed_with_their_lines():
    snakefile = '''
        from snakemake.utils import min_version
        min_version("7.0")
        localrules: all
        ruleorder: a > b

        rule all:
            input: "a.txt"

        rule a:
            output: pipe("a.txt")
            conda: "envs/a.yaml"
            group: "g"
            benchmark: "bench/a.tsv"
            wrapper: "v1.0/bio/bwa/mem"

        module other:
            snakefile: "other/Snakefile"

        use rule * from other as other_*
        '''
    text, notes = conv(snakefile)
    got = {(n.line, n.converted, n.what.split(":")[0]) for n in notes}
    assert got == {
        (1, False, "import from snakemake (utils, min_version)"), (2, False, "uses min_version from snakemake"),
        (4, True, "ruleorder"), (10, True, "rule 'a'"), (11, False, "rule 'a'"),
        (13, False, "rule 'a'"), (14, False, "rule 'a'"), (16, False, "module"),
        (19, False, "'use rule' (Snakemake modules)"),
    }
    for line in ("# from snakemake.utils import min_version", "# min_version(\"7.0\")", "# localrules: all",
                 "    # conda: \"envs/a.yaml\"", "    # wrapper: \"v1.0/bio/bwa/mem\"",
                 "# module other:", "#     snakefile: \"other/Snakefile\"", "# use rule * from other as other_*",
                 '    # output: pipe("a.txt")', '    output: "a.txt"', '    group: "g"'):  # (packs on Slurm)
        assert line in text.split("\n"), line
    parses(text)


def test_localrules_become_local_sections():
    text, notes = conv('''
        localrules: all, b

        rule all:
            input: "a.txt", "b.txt"

        rule a:
            output: "a.txt"
            localrule: True
            shell: "touch {output}"

        rule b:
            output: "b.txt"
            shell: "touch {output}"
        ''')
    assert notes == []
    rules = {r.name: r for r in parse_text(text, "Pipefile").statements if isinstance(r, S.RuleDecl)}
    assert {name for name, r in rules.items() if "local" in r.sections} == {"all", "a", "b"}
    assert "# localrules: all, b" in text.split("\n")


def test_ruleorder_becomes_priorities():
    text, notes = conv('''
        ruleorder: a > b > c
        ruleorder: d > c

        rule a:
            output: "{x}.txt"
            shell: "echo a > {output}"

        rule b:
            output: "{x}.txt"
            shell: "echo b > {output}"
        ''')
    assert 'rule a:\n    output: "{x}.txt"\n    priority: 2\n    shell:' in text
    assert 'rule b:\n    output: "{x}.txt"\n    priority: 1\n    shell:' in text
    assert [(n.line, n.converted) for n in notes] == [(1, True), (2, True)]
    assert "(a 2, b 1, c 0)" in notes[0].what
    parses(text)


def test_path_methods_are_reported():
    _, notes = conv('''
        def f(wildcards):
            with checkpoints.c.get(**wildcards).output[0].open() as f:
                return f.read()
        ''')
    assert [(n.line, n.converted) for n in notes] == [(2, True)]
    assert "open(path)" in notes[0].what


def test_rules_inside_python_blocks_are_kept_as_comments():
    text, notes = conv('''
        if config.get("x"):
            rule a:
                output: "a"
                shell: "touch {output}"
        else:
            pass
        ''')
    assert [n.line for n in notes] == [1]
    assert text.startswith("# if config.get(\"x\"):\n#     rule a:")
    assert "# else:" in text
    parses(text)


def test_top_level_python_assignments_imports_and_blocks():
    text, notes = conv('''
        import os
        from pathlib import Path
        A = 1
        B, C = 2, 3
        def f(wildcards):
            return "x"

        for i in range(2):
            pass
        ''')
    assert notes == []
    assert text == textwrap.dedent('''\
        import os
        from pathlib import Path
        A = 1
        python:
            B, C = 2, 3
            def f(wildcards):
                return "x"

            for i in range(2):
                pass
        ''')
    parses(text)


def test_input_functions_lambdas_unpack_checkpoints_and_rules_output():
    text, notes = conv('''
        checkpoint split:
            output: directory("chunks")
            shell: "mkdir -p {output}"

        def parts(wildcards):
            d = checkpoints.split.get(**wildcards).output[0]
            return expand("p/{i}.txt", i=glob_wildcards(d + "/{i}").i)

        rule merge:
            input:
                parts,
                unpack(lambda wildcards: {"a": "x"}),
                rules.split.output,
            output: "merged.txt"
            resources:
                mem_mb=lambda wildcards, attempt: 1000 * attempt,
                runtime=10
            shell: "cat {input} > {output}"
        ''')
    assert "checkpoint split:\n    output: directory(\"chunks\")" in text
    assert '        parts,\n        lambda wildcards: {"a": "x"},\n        rules.split.output,' in text
    assert "        mem_mb = lambda wildcards, attempt: 1000 * attempt,\n        runtime = 10," in text
    assert [(n.line, n.converted) for n in notes] == [(16, True)]  # the resource function of attempt
    parses(text)


def test_positional_params_are_named():
    text, notes = conv('''
        rule a:
            output: "a"
            params: "x"
            shell: "echo {params} {params[0]} > {output}"
        ''')
    assert "    params: param0 = \"x\"" in text
    assert "echo {params.param0} {params.param0} > {output}" in text
    assert notes[0].converted
    parses(text)


def test_named_log_and_quoting_spec():
    text, _ = conv('''
        rule a:
            output: "a"
            log: err="a.log"
            shell: "cat {input:q} > {output:q} 2> {log.err}"
        ''')
    assert '    log: "a.log"' in text and "cat {input} > {output} 2> {log}" in text
    parses(text)


def test_default_target_anonymous_rules_and_docstrings():
    text, notes = conv('''
        rule a:
            """Make a."""
            output: "{s}.txt"
            message: "making {output}"
            shell: "touch {output}"

        rule:
            input: expand("{s}.txt", s=[1, 2])
            default_target: True
        ''')
    assert 'rule a:\n    """Make a."""\n' in text
    assert "rule rule_1:\n" in text and "\ndefault: rule_1\n" in text
    assert {(n.line, n.converted) for n in notes} == {(4, False), (7, True)}
    parses(text)


def test_script_configfile_and_new_flags_use_the_issue_22_words(tmp_path):
    (tmp_path / "workflow" / "rules").mkdir(parents=True)
    (tmp_path / "workflow" / "Snakefile").write_text(textwrap.dedent('''\
        configfile: "config/config.yaml"
        include: "rules/plot.smk"
        '''))
    (tmp_path / "workflow" / "rules" / "plot.smk").write_text(textwrap.dedent('''\
        rule plot:
            input: ancient("table.tsv"), multiext("ref/genome", ".fa", ".fai")
            output: touch("plot.done")
            threads: config["threads"]
            script: "../scripts/plot.py"

        rule stats:
            output: "stats.txt"
            script: "../scripts/stats.R"
        '''))
    result = convert_file(str(tmp_path / "workflow" / "Snakefile"), str(tmp_path))
    text = result.text
    assert text.startswith('configfile: "config/config.yaml"\n# include: rules/plot.smk (converted in place)\n')
    assert '    input:\n        ancient("table.tsv"),\n        multiext("ref/genome", ".fa", ".fai"),\n' in text
    assert '    output: touch("plot.done")' in text
    assert '    resources: cores = upto(config["threads"])' in text
    assert '    script: "workflow/scripts/plot.py"' in text  # relative to where the Pipefile goes
    assert '    # script: "../scripts/stats.R"' in text
    assert [(Path(n.file).name, n.line, n.converted) for n in result.notes] == [("plot.smk", 9, False)]
    if lang_words():
        parses(text)


def test_not_a_snakefile_is_an_error_with_its_line():
    with pytest.raises(ConvertError) as e:
        convert_text("rule a:\n    output: (\n", "Snakefile")
    assert e.value.loc is not None and e.value.loc.file == "Snakefile"


def test_what_pyrule_cannot_take_in_params_and_resources_is_kept_as_comments():
    text, notes = conv('''
        rule a:
            output: "a"
            params: unpack(get_params)
            resources:
                mem="2G",
                gpu_model="nvidia-a100",
                n=2
            shell: "touch {output}"
        ''')
    assert '    # params: unpack(get_params)\n    # resources: gpu_model = "nvidia-a100"\n' in text
    assert '    resources:\n        mem = "2G",\n        n = 2,\n' in text
    assert [(n.line, n.converted) for n in notes] == [(3, False), (6, False)]
    parses(text)


def test_snakemake_globals_path_and_shell():
    text, notes = conv('''
        OUT = Path("out")
        shell("mkdir -p out")

        def helper():
            shell("echo hi")

        rule a:
            output: str(OUT / "a")
            shell: "touch {output}"
        ''')
    assert text.startswith('from pathlib import Path\n\nOUT = Path("out")\n# shell("mkdir -p out")\n')
    assert [(n.line, n.converted) for n in notes] == [(2, False), (4, True)]


def test_the_modules_snakemake_imports_for_a_snakefile_are_imported():
    text, notes = conv('''
        # a workflow
        import re
        X = os.path.join("a", "b")
        Y = re.sub("a", "b", sys.argv[0])
        rule a:
            output: "a"
            run:
                shutil.copy(tempfile.mkdtemp(), output[0])
        def f(subprocess):
            return subprocess.run()
        ''')
    assert notes == []
    assert text.startswith("# a workflow\nimport os\nimport sys\nimport tempfile\n\nimport re\n")
    parses(text)
