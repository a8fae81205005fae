/** One line naming the machine and code a benchmark ran on, for the tables it prints and writes. */
import { spawnSync } from 'node:child_process'
import { cpus, loadavg, release, totalmem, type } from 'node:os'

/**
 * e.g. `2 × AMD EPYC 7B13, 24 GiB, Linux 6.1, Node v20.20.2, commit 1a2b3c4, 2025-07-06, load average 3.1`;
 * the load average (over the last minute, when the report is made) says how shared the machine was.
 */
export function describeMachine(): string {
  const processors = cpus()
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown'
  return [
    `${processors.length} × ${processors[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(totalmem() / 2 ** 30)} GiB`,
    `${type()} ${release()}`,
    `Node ${process.version}`,
    `commit ${commit}`,
    new Date().toISOString().slice(0, 10),
    `load average ${loadavg()[0]!.toFixed(1)}`,
  ].join(', ')
}
