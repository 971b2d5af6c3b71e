"""Observe floating IPs, routers, security groups and tags on a running realstack.

    $REALSTACK_HOME/venv/bin/python realstack/lib/l3_facts.py [OUT.json]

Plays raw HTTP requests as the tenant `demo` (and a few as admin, marked so),
prints each request with its status code, time and JSON answer, and writes them
all to OUT.json (default $REALSTACK_HOME/l3-facts.json). Everything it creates is
named `l3f-<hex>` and deleted at the end. docs/real-nova-facts.md ("Floating IPs
and security groups") was written from its output.
"""
import json
import os
import sys
import time
import uuid

import openstack
import requests

BASE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # realstack/
STATE = os.environ.get('REALSTACK_HOME') or os.path.join(os.path.dirname(BASE), '.realstack')
os.environ.setdefault('OS_CLIENT_CONFIG_FILE', os.path.join(STATE, 'clouds.yaml'))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(STATE, 'l3-facts.json')
RUN = 'l3f-' + uuid.uuid4().hex[:6]
LOG = []


class Raw:
    """A token and the endpoints of one cloud entry; requests without any SDK logic."""

    def __init__(self, cloud):
        conn = openstack.connect(cloud=cloud)
        self.who = cloud
        self.token = conn.session.get_token()
        self.project_id = conn.current_project_id
        self.url = {s: conn.session.get_endpoint(service_type=s, interface='public')
                    for s in ('compute', 'network')}
        self.url['network'] = self.url['network'].rstrip('/') + '/v2.0'

    def __call__(self, method, service, path, body=None, mv=None, note='', quiet=False):
        headers = {'X-Auth-Token': self.token, 'Accept': 'application/json'}
        if mv:
            headers['OpenStack-API-Version'] = 'compute ' + mv
        t0 = time.monotonic()
        r = requests.request(method, self.url[service] + path, json=body, headers=headers,
                             timeout=60)
        dt = time.monotonic() - t0
        try:
            data = r.json()
        except ValueError:
            data = r.text or None
        if not quiet:
            rec = {'who': self.who, 'method': method, 'service': service, 'path': path,
                   'body': body, 'microversion': mv, 'status': r.status_code,
                   'seconds': round(dt, 3), 'answer': data, 'note': note}
            LOG.append(rec)
            print('\n### %s  %s %s %s%s -> %d (%.2fs)' % (
                note, self.who, method, service, path, r.status_code, dt))
            if body is not None:
                print('    body: ' + json.dumps(body))
            print(json.dumps(data, indent=2, sort_keys=True) if data is not None else '(no body)')
        return r.status_code, data


def poll(fn, done, timeout=30.0, interval=0.1):
    """Call fn() until done(result); return (result, seconds, number of calls)."""
    t0, n = time.monotonic(), 0
    while True:
        res, n = fn(), n + 1
        if done(res) or time.monotonic() - t0 > timeout:
            return res, round(time.monotonic() - t0, 3), n
        time.sleep(interval)


def note(text):
    LOG.append({'note': text})
    print('\n>>> ' + text)


demo, admin = Raw('realstack'), Raw('realstack-admin')
net = {n['name']: n for n in demo('GET', 'network', '/networks', quiet=True)[1]['networks']}
public, private = net['public'], net['private']
image = openstack.connect(cloud='realstack').image.find_image('cirros').id
cleanup = []  # (raw, method, service, path)


def server(name, sgs=None):
    body = {'server': {'name': name, 'imageRef': image, 'flavorRef': '1',
                       'networks': [{'uuid': private['id']}]}}
    if sgs:
        body['server']['security_groups'] = [{'name': s} for s in sgs]
    _, d = demo('POST', 'compute', '/servers', body, '2.52', quiet=True)
    sid = d['server']['id']
    cleanup.append((demo, 'DELETE', 'compute', '/servers/' + sid))
    (_, s), secs, _ = poll(lambda: demo('GET', 'compute', '/servers/' + sid, mv='2.100', quiet=True),
                           lambda r: r[1]['server']['status'] in ('ACTIVE', 'ERROR'), 90, 0.25)
    assert s['server']['status'] == 'ACTIVE', s
    port = demo('GET', 'network', '/ports?device_id=' + sid, quiet=True)[1]['ports'][0]
    return sid, port


def addresses(sid):
    return demo('GET', 'compute', '/servers/' + sid, mv='2.100', quiet=True)[1]['server']['addresses']


def has_type(kind, ip=None):
    def check(addrs):
        return any(a['OS-EXT-IPS:type'] == kind and (ip is None or a['addr'] == ip)
                   for v in addrs.values() for a in v)
    return check


try:
    # ---- context ---------------------------------------------------------
    demo('GET', 'network', '/networks?name=public', note='public as the tenant sees it')
    demo('GET', 'network', '/subnets?network_id=' + public['id'], note='its subnet')
    demo('GET', 'network', '/routers?name=router1', note='router1 as the tenant sees it')
    _, exts = demo('GET', 'network', '/extensions', quiet=True)
    aliases = sorted(e['alias'] for e in exts['extensions'])
    note('extensions (%d): %s' % (len(aliases), ' '.join(aliases)))

    srv_a, port_a = server(RUN + '-a')
    srv_b, port_b = server(RUN + '-b')
    note('servers %s (port %s, %s) and %s (port %s, %s) ACTIVE' % (
        srv_a, port_a['id'], port_a['fixed_ips'][0]['ip_address'],
        srv_b, port_b['id'], port_b['fixed_ips'][0]['ip_address']))

    # ---- floating IPs ----------------------------------------------------
    st, d = demo('POST', 'network', '/floatingips',
                 {'floatingip': {'floating_network_id': public['id'], 'description': RUN}},
                 note='allocate (no port)')
    fip1 = d['floatingip']
    cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + fip1['id']))
    demo('GET', 'network', '/floatingips/' + fip1['id'], note='show, unassociated')
    demo('GET', 'network', '/floatingips?port_id=' + port_a['id'], note='?port_id= before association')

    t_put = time.monotonic()
    demo('PUT', 'network', '/floatingips/' + fip1['id'], {'floatingip': {'port_id': port_a['id']}},
         note='associate to server a port')
    addrs, secs, n = poll(lambda: addresses(srv_a), has_type('floating', fip1['floating_ip_address']))
    note('nova addresses show the floating IP %.2fs after the PUT answered (%d polls): %s' % (
        secs, n, json.dumps(addrs)))
    note('PUT round trip + wait: %.2fs' % (time.monotonic() - t_put))
    demo('GET', 'compute', '/servers/' + srv_a, mv='2.100', note='server a at 2.100 (addresses)')
    demo('GET', 'compute', '/servers/' + srv_a, note='server a at 2.1 (addresses)')
    demo('GET', 'compute', '/servers/' + srv_a + '/ips', note='/ips')
    demo('GET', 'network', '/floatingips?port_id=' + port_a['id'], note='?port_id= after association')
    demo('GET', 'network', '/floatingips?floating_ip_address=' + fip1['floating_ip_address'],
         note='?floating_ip_address=')
    time.sleep(3)
    demo('GET', 'network', '/floatingips/' + fip1['id'], note='show, associated, 3 s later (status?)')

    # errors around association
    demo('PUT', 'network', '/floatingips/' + fip1['id'], {'floatingip': {'port_id': port_b['id']}},
         note='move an associated IP straight to another port')
    addrs, secs, n = poll(lambda: addresses(srv_a), lambda a: not has_type('floating')(a))
    note('server a addresses after the move: %.2fs, %s' % (secs, json.dumps(addrs)))
    addrs, secs, n = poll(lambda: addresses(srv_b), has_type('floating'))
    note('server b addresses after the move: %.2fs, %s' % (secs, json.dumps(addrs)))

    st, d = demo('POST', 'network', '/floatingips',
                 {'floatingip': {'floating_network_id': public['id'], 'port_id': port_b['id']}},
                 note='allocate+associate to a port whose fixed IP already has one')
    if st < 300:
        cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + d['floatingip']['id']))
    st, d = demo('POST', 'network', '/floatingips',
                 {'floatingip': {'floating_network_id': public['id']}}, note='allocate fip2')
    fip2 = d['floatingip']
    cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + fip2['id']))
    demo('PUT', 'network', '/floatingips/' + fip2['id'], {'floatingip': {'port_id': port_b['id']}},
         note='associate fip2 to the port that already has fip1 (same fixed IP)')
    st, d = demo('POST', 'network', '/floatingips',
                 {'floatingip': {'floating_network_id': public['id'], 'port_id': port_a['id']}},
                 note='allocate+associate in one POST (port_id given)')
    fip3 = d['floatingip']
    cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + fip3['id']))
    addrs, secs, n = poll(lambda: addresses(srv_a), has_type('floating'))
    note('server a addresses after POST with port_id: %.2fs, %s' % (secs, json.dumps(addrs)))

    demo('POST', 'network', '/floatingips', {'floatingip': {'floating_network_id': private['id']}},
         note='floating IP on a network that is not external')
    demo('POST', 'network', '/floatingips',
         {'floatingip': {'floating_network_id': public['id'], 'floating_ip_address': '203.0.113.77'}},
         note='tenant asks for a given address')
    demo('POST', 'network', '/floatingips',
         {'floatingip': {'floating_network_id': public['id'], 'port_id': str(uuid.uuid4())}},
         note='port_id that does not exist')
    demo('POST', 'network', '/floatingips', {'floatingip': {}}, note='no floating_network_id')
    demo('PUT', 'network', '/floatingips/' + fip2['id'],
         {'floatingip': {'port_id': port_b['id'], 'fixed_ip_address': '10.0.0.250'}},
         note='fixed_ip_address not on the port')

    # a tenant network that no router reaches
    _, d = demo('POST', 'network', '/networks', {'network': {'name': RUN + '-iso'}}, quiet=True)
    iso = d['network']
    cleanup.append((demo, 'DELETE', 'network', '/networks/' + iso['id']))
    demo('POST', 'network', '/subnets', {'subnet': {'network_id': iso['id'], 'ip_version': 4,
                                                   'cidr': '192.168.77.0/24'}}, quiet=True)
    _, d = demo('POST', 'network', '/ports', {'port': {'network_id': iso['id'], 'name': RUN + '-iso'}},
                quiet=True)
    iso_port = d['port']
    cleanup.append((demo, 'DELETE', 'network', '/ports/' + iso_port['id']))
    demo('PUT', 'network', '/floatingips/' + fip2['id'], {'floatingip': {'port_id': iso_port['id']}},
         note='associate to a port on a subnet no router connects to public')
    demo('POST', 'network', '/ports',
         {'port': {'network_id': iso['id'], 'fixed_ips': [{'ip_address': iso_port['fixed_ips'][0]['ip_address']}]}},
         note='tenant port with a fixed IP already in use (own network)')
    demo('POST', 'network', '/ports',
         {'port': {'network_id': private['id'], 'fixed_ips': [{'ip_address': '10.0.0.1'}]}},
         note='tenant port with a fixed IP on the shared private network')
    admin('POST', 'network', '/ports',
          {'port': {'network_id': private['id'], 'fixed_ips': [{'ip_address': '10.0.0.1'}]}},
          note='admin port with the fixed IP router1 uses')
    demo('POST', 'network', '/ports',
         {'port': {'network_id': iso['id'], 'fixed_ips': [{'ip_address': '10.9.9.9'}]}},
         note='fixed IP outside every subnet of the network')

    # disassociate, delete
    t0 = time.monotonic()
    demo('PUT', 'network', '/floatingips/' + fip1['id'], {'floatingip': {'port_id': None}},
         note='disassociate (port_id null)')
    addrs, secs, n = poll(lambda: addresses(srv_b), lambda a: not has_type('floating')(a))
    note('server b addresses after disassociation: %.2fs (%d polls), %s' % (secs, n, json.dumps(addrs)))
    demo('GET', 'network', '/floatingips?port_id=' + port_b['id'], note='?port_id= after disassociation')
    demo('DELETE', 'network', '/floatingips/' + fip1['id'], note='delete unassociated')
    demo('GET', 'network', '/floatingips/' + fip1['id'], note='show deleted')
    demo('DELETE', 'network', '/floatingips/' + fip1['id'], note='delete again')
    demo('DELETE', 'network', '/floatingips/' + fip3['id'], note='delete while associated')
    addrs, secs, n = poll(lambda: addresses(srv_a), lambda a: not has_type('floating')(a))
    note('server a addresses after deleting its associated IP: %.2fs (%d polls), %s' % (
        secs, n, json.dumps(addrs)))

    # ---- tags on neutron resources ---------------------------------------
    router1 = demo('GET', 'network', '/routers?name=router1', quiet=True)[1]['routers'][0]['id']
    for kind, rid in (('floatingips', fip2['id']), ('ports', port_a['id']),
                      ('networks', iso['id']), ('routers', router1)):
        demo('PUT', 'network', '/%s/%s/tags/%s' % (kind, rid, 'stack=' + RUN), note='add a tag to ' + kind)
        demo('PUT', 'network', '/%s/%s/tags/%s' % (kind, rid, 'stack=' + RUN), note='add it again')
        demo('GET', 'network', '/%s/%s/tags/%s' % (kind, rid, 'stack=' + RUN), note='check tag')
        demo('GET', 'network', '/%s/%s/tags/nope' % (kind, rid), note='check missing tag')
        demo('GET', 'network', '/%s?tags=%s' % (kind, 'stack=' + RUN), note='?tags= filter')
        demo('GET', 'network', '/%s/%s/tags' % (kind, rid), note='list tags')
        demo('PUT', 'network', '/%s/%s/tags' % (kind, rid), {'tags': ['b', 'a', 'stack=' + RUN]},
             note='replace all tags')
        demo('DELETE', 'network', '/%s/%s/tags/a' % (kind, rid), note='delete a tag')
        demo('DELETE', 'network', '/%s/%s/tags/a' % (kind, rid), note='delete it again')
        demo('GET', 'network', '/%s?tags-any=b,zzz&not-tags=zzz' % kind, note='tags-any / not-tags')
        demo('PUT', 'network', '/%s/%s/tags' % (kind, rid), {'tags': []}, quiet=True)
    demo('PUT', 'network', '/floatingips/%s/tags/%s' % (fip2['id'], 'x' * 61), note='61-char tag')
    demo('PUT', 'network', '/floatingips/%s/tags/%s' % (fip2['id'], 'a,b'), note='tag with a comma')
    demo('POST', 'network', '/floatingips',
         {'floatingip': {'floating_network_id': public['id'], 'tags': ['t1']}},
         note='tags in the POST body')

    # ---- exhausted pool, quota -------------------------------------------
    _, d = admin('POST', 'network', '/networks',
                 {'network': {'name': RUN + '-ext1', 'router:external': True}}, quiet=True)
    ext1 = d['network']
    cleanup.append((admin, 'DELETE', 'network', '/networks/' + ext1['id']))
    admin('POST', 'network', '/subnets',
          {'subnet': {'network_id': ext1['id'], 'ip_version': 4, 'cidr': '198.51.100.0/24',
                      'enable_dhcp': False,
                      'allocation_pools': [{'start': '198.51.100.10', 'end': '198.51.100.10'}]}},
          quiet=True)
    st, d = demo('POST', 'network', '/floatingips', {'floatingip': {'floating_network_id': ext1['id']}},
                 note='the one address of a 1-address pool')
    if st < 300:
        cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + d['floatingip']['id']))
    demo('POST', 'network', '/floatingips', {'floatingip': {'floating_network_id': ext1['id']}},
         note='pool exhausted')
    admin('PUT', 'network', '/quotas/' + demo.project_id, {'quota': {'floatingip': 3}}, quiet=True)
    try:
        demo('GET', 'network', '/quotas/%s/details' % demo.project_id, note='quota details (floatingip 3)')
        for i in range(3):
            st, d = demo('POST', 'network', '/floatingips',
                         {'floatingip': {'floating_network_id': public['id']}},
                         note='allocate under quota 3 (#%d)' % (i + 1), quiet=False)
            if st < 300:
                cleanup.append((demo, 'DELETE', 'network', '/floatingips/' + d['floatingip']['id']))
    finally:
        admin('DELETE', 'network', '/quotas/' + demo.project_id, quiet=True)

    # ---- security groups -------------------------------------------------
    st, d = demo('POST', 'network', '/security-groups',
                 {'security_group': {'name': RUN + '-web', 'description': 'web'}}, note='create group')
    web = d['security_group']
    cleanup.append((demo, 'DELETE', 'network', '/security-groups/' + web['id']))
    rule = {'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': 'tcp', 'port_range_min': 22,
            'port_range_max': 22, 'remote_ip_prefix': '0.0.0.0/0', 'security_group_id': web['id']}
    st, d = demo('POST', 'network', '/security-group-rules', {'security_group_rule': rule},
                 note='rule tcp 22 from 0.0.0.0/0')
    r22 = d['security_group_rule']
    demo('POST', 'network', '/security-group-rules', {'security_group_rule': rule}, note='same rule again')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, remote_ip_prefix='10.1.2.3/8')},
         note='remote_ip_prefix with host bits set')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, port_range_min=90, port_range_max=80)}, note='min > max')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, port_range_min=0, port_range_max=0)}, note='tcp port 0')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, port_range_max=70000)}, note='port 70000')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, protocol='icmp', port_range_min=8, port_range_max=0)},
         note='icmp type 8 code 0')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, protocol='bogus')}, note='unknown protocol')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rule, ethertype='IPv6')}, note='IPv6 ethertype with an IPv4 prefix')
    rg = {'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': 'tcp', 'port_range_min': 5432,
          'port_range_max': 5432, 'remote_group_id': web['id'], 'security_group_id': web['id']}
    st, d = demo('POST', 'network', '/security-group-rules', {'security_group_rule': rg},
                 note='rule with remote_group_id')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rg, remote_ip_prefix='10.0.0.0/24')},
         note='remote_group_id and remote_ip_prefix together')
    demo('POST', 'network', '/security-group-rules',
         {'security_group_rule': dict(rg, remote_group_id=str(uuid.uuid4()))},
         note='remote_group_id that does not exist')
    demo('GET', 'network', '/security-groups/' + web['id'], note='group with its rules')
    demo('GET', 'network', '/security-group-rules?security_group_id=' + web['id'], note='rules by group')
    demo('DELETE', 'network', '/security-group-rules/' + r22['id'], note='delete rule')
    demo('DELETE', 'network', '/security-group-rules/' + r22['id'], note='delete rule again')
    demo('PUT', 'network', '/security-group-rules/' + r22['id'], {'security_group_rule': {'port_range_min': 1}},
         note='update a rule')
    demo('PUT', 'network', '/security-groups/%s/tags/%s' % (web['id'], 'stack=' + RUN), note='tag a group')
    demo('GET', 'network', '/security-groups?tags=' + 'stack=' + RUN, note='groups ?tags=')

    # on a running server (nova actions)
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'addSecurityGroup': {'name': RUN + '-web'}},
         note='addSecurityGroup')
    demo('GET', 'compute', '/servers/' + srv_a, mv='2.100', note='server a after addSecurityGroup')
    demo('GET', 'compute', '/servers/%s/os-security-groups' % srv_a, note='os-security-groups after add')
    demo('GET', 'network', '/ports/' + port_a['id'], note='the port after add')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'addSecurityGroup': {'name': RUN + '-web'}},
         note='addSecurityGroup again')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'addSecurityGroup': {'name': 'nope'}},
         note='addSecurityGroup unknown name')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'addSecurityGroup': {'name': web['id']}},
         note='addSecurityGroup by id')
    demo('DELETE', 'network', '/security-groups/' + web['id'], note='delete a group in use')
    st, d = demo('POST', 'network', '/security-groups', {'security_group': {'name': RUN + '-web'}},
                 note='second group with the same name')
    cleanup.append((demo, 'DELETE', 'network', '/security-groups/' + d['security_group']['id']))
    demo('POST', 'compute', '/servers/%s/action' % srv_b, {'addSecurityGroup': {'name': RUN + '-web'}},
         note='addSecurityGroup of an ambiguous name')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'removeSecurityGroup': {'name': RUN + '-web'}},
         note='removeSecurityGroup of an ambiguous name')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'removeSecurityGroup': {'name': web['id']}},
         note='removeSecurityGroup by id')
    demo('GET', 'compute', '/servers/%s/os-security-groups' % srv_a, note='os-security-groups after remove')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'removeSecurityGroup': {'name': web['id']}},
         note='removeSecurityGroup again')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'removeSecurityGroup': {'name': 'default'}},
         note='remove default (last group)')
    demo('GET', 'compute', '/servers/' + srv_a, mv='2.100', note='server a with no group')
    demo('GET', 'network', '/ports/' + port_a['id'], note='its port with no group')
    demo('POST', 'compute', '/servers/%s/action' % srv_a, {'addSecurityGroup': {'name': 'default'}},
         note='add default back')
finally:
    for raw, method, service, path in reversed(cleanup):
        st, d = raw(method, service, path, quiet=True)
        if method == 'DELETE' and service == 'compute':
            poll(lambda p=path: raw('GET', 'compute', p, quiet=True), lambda r: r[0] == 404, 60, 0.2)
        if st >= 300 and st != 404:
            print('cleanup %s %s -> %s %s' % (method, path, st, d), file=sys.stderr)
    with open(OUT, 'w') as f:
        json.dump(LOG, f, indent=2, sort_keys=True)
    print('\nwrote %s (%d records)' % (OUT, len(LOG)))
