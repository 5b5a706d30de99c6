/**
 * The payload every scenario caches: a typical ~1 KB JSON-like object (a user profile).
 * Only strings, numbers, booleans, arrays and plain objects, so JSON and msgpack round-trip
 * it identically and no contender is penalised for a type another one cannot store.
 */
export interface Profile {
  id: number
  uuid: string
  name: string
  email: string
  createdAt: string
  updatedAt: string
  active: boolean
  score: number
  roles: string[]
  address: { street: string; city: string; postcode: string; country: string }
  preferences: {
    theme: string
    language: string
    timezone: string
    notifications: { email: boolean; sms: boolean; push: boolean; digest: string }
  }
  stats: { posts: number; followers: number; following: number; likes: number }
  tags: string[]
  links: string[]
  bio: string
}

const BIO =
  'Mathematician and writer, chiefly known for work on the Analytical Engine. Her notes on the engine ' +
  'include what is recognised as the first algorithm intended to be carried out by such a machine; ' +
  'she saw that it could act upon other things besides number.'

/** A fresh object each call: caches that keep references must not share one instance. */
export function makeValue(id: number): Profile {
  return {
    id,
    uuid: `3f2b8c1e-9d4a-4e6b-8a7f-${String(id).padStart(12, '0')}`,
    name: 'Augusta Ada King',
    email: `ada.${id}@example.com`,
    createdAt: '2024-05-01T12:34:56.000Z',
    updatedAt: '2025-11-20T08:15:00.000Z',
    active: true,
    score: 4.75,
    roles: ['admin', 'editor', 'billing', 'viewer'],
    address: { street: '12 St James Square', city: 'London', postcode: 'SW1Y 4JH', country: 'GB' },
    preferences: {
      theme: 'dark',
      language: 'en-GB',
      timezone: 'Europe/London',
      notifications: { email: true, sms: false, push: true, digest: 'weekly' },
    },
    stats: { posts: 1843, followers: 120_394, following: 211, likes: 48_112 },
    tags: ['mathematics', 'computing', 'poetry', 'engines', 'analysis', 'notes'],
    links: ['https://example.com/ada/notes', 'https://example.com/ada/letters'],
    bio: BIO,
  }
}

/** True when `v` is the profile `id` (every scenario checks what callers got). */
export function isProfile(v: unknown, id: number): boolean {
  return typeof v === 'object' && v !== null && (v as Profile).id === id && (v as Profile).bio === BIO
}

export const VALUE_JSON_BYTES = Buffer.byteLength(JSON.stringify(makeValue(1)))
