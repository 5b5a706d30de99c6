import { parseClusterNodes, parseInfo, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { describe, expect, it } from 'vitest'

describe('parseClusterNodes', () => {
  it('reads ids, addresses, roles, slot ranges and open migrations', () => {
    const text = [
      'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 7000 [93->-292f8b365bb7edb5e285caf0b7e6ddc7265a2f4]',
      '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@40004,host-4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
      '292f8b365bb7edb5e285caf0b7e6ddc7265a2f4 127.0.0.1:30002@40002 master,fail - 1426238316232 1426238315232 2 disconnected',
      '',
    ].join('\n')
    const [primary, replica, failed] = parseClusterNodes(text)
    expect(primary).toMatchObject({
      id: 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca',
      host: '127.0.0.1',
      port: 30001,
      flags: ['myself', 'master'],
      primaryId: null,
      slots: [
        [0, 5460],
        [7000, 7000],
      ],
      openSlots: ['[93->-292f8b365bb7edb5e285caf0b7e6ddc7265a2f4]'],
    })
    expect(replica).toMatchObject({ port: 30004, primaryId: primary?.id, slots: [], flags: ['slave'] })
    expect(failed).toMatchObject({ flags: ['master', 'fail'], linkState: 'disconnected' })
  })
})

describe('parseInfo', () => {
  it('maps fields and skips section headers', () => {
    expect(parseInfo('# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n')).toEqual({
      role: 'slave',
      master_link_status: 'up',
    })
  })
})

describe('uniqueKey / uniquePrefix', () => {
  it('never repeats and never contains a hash tag or glob character', () => {
    const keys = new Set(Array.from({ length: 10_000 }, () => uniqueKey()))
    const prefixes = new Set(Array.from({ length: 10_000 }, () => uniquePrefix()))
    expect(keys.size).toBe(10_000)
    expect(prefixes.size).toBe(10_000)
    for (const value of [...keys, ...prefixes]) expect(value).not.toMatch(/[{}*?[\]\s]/)
    expect(uniqueKey('user')).toMatch(/^user:/)
    expect(uniquePrefix()).toMatch(/^t-[a-z0-9-]+$/)
  })
})
