import { parseArgs } from 'node:util'
import { version } from '../package.json'
import { runDoctor } from './doctor'
import { isCliError, UsageError } from './errors'
import { formatDoctorJson, formatDoctorText, formatTopologyJson, formatTopologyText } from './format'
import { readTopology } from './topology'

/** The CLI's version. */
export const VERSION: string = version

/** Exit codes: the contract scripts and CI rely on. */
export const EXIT = {
  /** Audit ran, nothing failed (warnings allowed). Also --help / --version. */
  ok: 0,
  /** Audit ran, at least one finding is `fail`. */
  failed: 1,
  /** Audit could not run: bad usage, seed unreachable or refusing us, unexpected error. */
  error: 2,
} as const

/** The `--help` text. */
export const USAGE = `Usage: herdless <command> <redis-url> [options]

Commands:
  doctor <redis-url>     audit a Redis / Redis Cluster deployment for cache use
  topology <redis-url>   list nodes, roles, slots, memory and replication
  help                   show this help

Options:
  --cluster              doctor: discover every node from the seed and audit each one
                         (topology detects a cluster by itself)
  --strict               doctor: warnings fail the run too (exit 1), for CI gates
  --json                 print JSON instead of a table
  --timeout <ms>         connect and command timeout per node (default 5000)
  -h, --help             show this help
  -v, --version          print the version

<redis-url>: redis://[user:password@]host:port[/db], rediss://... for TLS, or host:port.

Exit codes: 0 no fail finding (warnings allowed unless --strict), 1 at least one fail finding,
            2 could not run (usage error, seed unreachable, authentication refused).
`

/** Where the CLI writes; the binary passes process.stdout/stderr, tests pass collectors. */
export interface CliIo {
  /** Write to standard output. */
  stdout(text: string): void
  /** Write to standard error. */
  stderr(text: string): void
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}

/** Runs the command line (`argv` without node and script) and resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv)
    if (values.help === true) {
      io.stdout(USAGE)
      return EXIT.ok
    }
    if (values.version === true) {
      io.stdout(`${VERSION}\n`)
      return EXIT.ok
    }
    const [command, url, ...extra] = positionals
    if (command === 'help') {
      io.stdout(USAGE)
      return EXIT.ok
    }
    if (command === undefined) throw new UsageError('missing command: doctor, topology or help')
    if (command !== 'doctor' && command !== 'topology') {
      throw new UsageError(`unknown command "${command}": expected doctor, topology or help`)
    }
    if (values.strict === true && command !== 'doctor')
      throw new UsageError('--strict applies to doctor only')
    if (url === undefined) throw new UsageError(`missing <redis-url>: herdless ${command} redis://host:port`)
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra.join(' ')}"`)
    const timeoutMs = parseTimeout(values.timeout)

    if (command === 'doctor') {
      const report = await runDoctor(url, {
        cluster: values.cluster === true,
        strict: values.strict === true,
        timeoutMs,
      })
      io.stdout(values.json === true ? formatDoctorJson(report) : formatDoctorText(report))
      return report.exitCode === 0 ? EXIT.ok : EXIT.failed
    }
    const report = await readTopology(url, { timeoutMs })
    io.stdout(values.json === true ? formatTopologyJson(report) : formatTopologyText(report))
    return EXIT.ok
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    io.stderr(`herdless: ${message.split('\n')[0]}\n`)
    if (isCliError(error) && error.code === 'E_USAGE') io.stderr('Run herdless --help for usage.\n')
    return EXIT.error
  }
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        cluster: { type: 'boolean' },
        strict: { type: 'boolean' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (error) {
    // parseArgs throws TypeError (ERR_PARSE_ARGS_*). Its unknown-option message goes on about
    // passing '-- "--x"' as a positional (with an unbalanced quote); none of ours starts with '-'.
    const message = error instanceof Error ? error.message : String(error)
    const unknown = /^Unknown option '([^']+)'/.exec(message)
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : message)
  }
}

function parseTimeout(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  const ms = Number(raw)
  if (!Number.isInteger(ms) || ms <= 0)
    throw new UsageError(`--timeout must be a positive number of ms; got "${raw}"`)
  return ms
}
