import type { IncomingHttpHeaders } from 'node:http'
import { hideConditionalHeaders } from '@herdless/core'
import { describe, expect, it } from 'vitest'

// docs/adapters.md rule 5, as every adapter uses it: the validators are hidden from the
// handler run for the cache and put back afterwards.

describe('hideConditionalHeaders on a Node-style header record', () => {
  it('hides If-None-Match and If-Modified-Since and leaves every other header alone', () => {
    const headers: IncomingHttpHeaders = {
      host: 'example.test',
      'if-none-match': '"a"',
      'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT',
      'if-match': '"b"',
      accept: 'text/html',
    }
    hideConditionalHeaders(headers)
    expect(headers).toEqual({ host: 'example.test', 'if-match': '"b"', accept: 'text/html' })
    expect('if-none-match' in headers).toBe(false)
    expect('if-modified-since' in headers).toBe(false)
  })

  it('restores them exactly: the same values, a list as the same list, an absent header absent', () => {
    const list = ['"a"', '"b"']
    const headers: Record<string, string | string[] | undefined> = { 'if-none-match': list, host: 'h' }
    const restore = hideConditionalHeaders(headers)
    expect(headers).toEqual({ host: 'h' })
    restore()
    expect(headers).toEqual({ host: 'h', 'if-none-match': ['"a"', '"b"'] })
    expect(headers['if-none-match']).toBe(list)
    expect(Object.keys(headers)).not.toContain('if-modified-since')
  })

  it('restore is idempotent: a second call does not bring back a header removed since', () => {
    const headers: IncomingHttpHeaders = { 'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT' }
    const restore = hideConditionalHeaders(headers)
    restore()
    expect(headers['if-modified-since']).toBe('Wed, 21 Oct 2015 07:28:00 GMT')
    delete headers['if-modified-since']
    restore()
    expect(headers).toEqual({})
  })

  it('restore leaves a header the run set itself where no validator was hidden', () => {
    const headers: IncomingHttpHeaders = {}
    const restore = hideConditionalHeaders(headers)
    headers['if-none-match'] = '"set-by-run"'
    restore()
    expect(headers).toEqual({ 'if-none-match': '"set-by-run"' })
  })

  it('a header named like a Headers method is a header, not a Headers object', () => {
    const headers: IncomingHttpHeaders = { get: 'x', set: 'y', delete: 'z', 'if-none-match': '"a"' }
    const restore = hideConditionalHeaders(headers)
    expect(headers).toEqual({ get: 'x', set: 'y', delete: 'z' })
    restore()
    expect(headers['if-none-match']).toBe('"a"')
  })
})

describe('hideConditionalHeaders on a web Headers', () => {
  it('hides both validators and restores them once', () => {
    const headers = new Headers({
      'If-None-Match': '"a", "b"',
      'If-Modified-Since': 'Wed, 21 Oct 2015 07:28:00 GMT',
      accept: 'text/html',
    })
    const restore = hideConditionalHeaders(headers)
    expect([...headers.keys()]).toEqual(['accept'])
    restore()
    expect(Object.fromEntries(headers)).toEqual({
      accept: 'text/html',
      'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT',
      'if-none-match': '"a", "b"',
    })
    headers.delete('if-none-match')
    restore()
    expect(headers.has('if-none-match')).toBe(false)
  })

  it('a request without validators is left as it was', () => {
    const headers = new Headers({ accept: 'text/html' })
    const restore = hideConditionalHeaders(headers)
    restore()
    expect(Object.fromEntries(headers)).toEqual({ accept: 'text/html' })
  })
})
