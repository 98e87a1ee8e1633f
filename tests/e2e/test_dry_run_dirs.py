"""`pyrule -n` where the outputs' directories are empty, absent or partly filled: each job for
the reason a run finds (the dry run's stat cache answers for the paths of an empty or absent
directory without a stat each: stat_cache.SnapshotStatCache; issue 23, W4a)."""

from __future__ import annotations

import os
import time

PIPEFILE = """
    rule all:
        input: expand("empty/{i}.txt", i=range(3)), expand("absent/{i}/r.txt", i=range(3)), \
expand("part/{i}.txt", i=range(4)), expand("absent2/{i}.txt", i=range(2))

    rule copy:
        output: "{d,empty|part|absent2}/{i}.txt"
        input: "in/{i}.txt"
        shell: cat {input} > {output}

    rule nested:
        output: "absent/{i}/r.txt"
        input: "in/{i}.txt"
        shell: mkdir -p absent/{wildcards.i} && cat {input} > {output}
"""


def test_a_dry_run_sees_each_output_in_empty_absent_and_partly_filled_directories(project):
    project.pipefile(PIPEFILE)
    for i in range(4):
        project.write(f"in/{i}.txt", f"{i}\n")
    (project / "empty").mkdir()
    past = time.time() - 100
    for i in range(4):
        os.utime(project / f"in/{i}.txt", (past, past))
    project.write("part/1.txt", "1\n")  # made by hand, newer than its input: adopted
    project.write("part/3.txt", "3\n")
    missing = ["empty/0.txt", "empty/1.txt", "empty/2.txt", "absent/0/r.txt", "absent/1/r.txt", "absent/2/r.txt",
               "part/0.txt", "part/2.txt", "absent2/0.txt", "absent2/1.txt"]
    lines = project.dry()
    assert sorted(lines) == sorted(
        f"{'nested' if p.startswith('absent/') else 'copy'}[{'' if p.startswith('absent/') else 'd=' + p.split('/')[0] + ','}"
        f"i={p.split('/')[1].split('.')[0]}]: output {p} missing" for p in missing), lines
    project.run("-q")
    assert project.dry() == []
    os.remove(project / "empty/1.txt")
    os.remove(project / "absent/2/r.txt")
    assert sorted(project.dry()) == ["copy[d=empty,i=1]: output empty/1.txt missing",
                                     "nested[i=2]: output absent/2/r.txt missing"]
