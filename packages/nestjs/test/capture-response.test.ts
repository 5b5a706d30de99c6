import { describe, expect, it } from 'vitest'
import { captureResponse } from '../src/capture-response'

const route = { status: 200, headers: {} }
const reply = (contentType: string) => ({
  raw: {},
  statusCode: 200,
  getHeaders: () => ({ 'content-type': contentType }),
})
const typeOf = (value: unknown, res: Parameters<typeof captureResponse>[1]) => {
  const r = captureResponse(value, res, route, true)
  return r.kind === 'captured' ? r.headers['content-type'] : r.kind
}

describe('captureResponse: the Content-Type Fastify sends for a declared type', () => {
  it('adds charset=utf-8 to a JSON media type set without one, as reply.send does', () => {
    expect(typeOf('{}', reply('application/json'))).toBe('application/json; charset=utf-8')
    expect(typeOf({ a: 1 }, reply('application/problem+json;'))).toBe(
      'application/problem+json; charset=utf-8',
    )
  })
  it('leaves a charset, a non-JSON type, bytes and Express alone', () => {
    expect(typeOf('{}', reply('application/json; Charset=latin1'))).toBe('application/json; Charset=latin1')
    expect(typeOf('hi', reply('text/plain'))).toBe('text/plain')
    expect(typeOf(Buffer.from('{}'), reply('application/json'))).toBe('application/json')
    const express = { statusCode: 200, getHeaders: () => ({ 'content-type': 'application/json' }) }
    expect(typeOf('{}', express)).toBe('application/json')
  })
})
