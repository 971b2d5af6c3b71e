"""Post-start bootstrap: wait for every nova-compute host (RS_COMPUTE_HOSTS),
map them to cell1, create flavors, a tiny 'cirros' image, a shared 'private'
network, an external network 'public' and the demo project's router 'router1'
(gateway on public, interface on private), so ports on private can get floating
IPs; wait for cinder-volume and create the public volume type 'standard'
(Cinder's default here).  Idempotent."""
import os
import subprocess
import sys
import time

import openstack

BASE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.environ.get('REALSTACK_HOME') or os.path.join(os.path.dirname(BASE), '.realstack')
BIN = os.path.dirname(sys.executable)
COMPUTE_HOSTS = int(os.environ.get('RS_COMPUTE_HOSTS') or 1)
t0 = time.time()


def say(msg):
    print('  [%5.1fs] %s' % (time.time() - t0, msg), flush=True)


admin = openstack.connect(cloud='realstack-admin')

# 1. every nova-compute registered its service and compute node + resource provider
# A busy machine can be slow: generous, and scaled like start.sh's waits (RS_WAIT_SCALE).
deadline = time.time() + 300 * float(os.environ.get('RS_WAIT_SCALE') or 1)
svcs, rps = [], []
while True:
    try:
        svcs = [s for s in admin.compute.services()
                if s.binary == 'nova-compute' and s.state == 'up']
        rps = list(admin.placement.resource_providers())
        if len(svcs) >= COMPUTE_HOSTS and len(rps) >= COMPUTE_HOSTS:
            break
    except Exception as e:  # API may still be warming up
        say('waiting for nova-compute: %s' % e)
    if time.time() > deadline:
        sys.exit('only %d of %d nova-compute hosts came up (%s; see logs/nova-compute*.log)'
                 % (len(svcs), COMPUTE_HOSTS, ', '.join(sorted(s.host for s in svcs))))
    time.sleep(1)
say('%d nova-compute hosts are up; resource providers %s'
    % (len(svcs), ', '.join(sorted(rp.name for rp in rps))))
r = subprocess.run([os.path.join(BIN, 'nova-manage'), '--config-file',
                    os.path.join(STATE, 'etc/nova/nova.conf'),
                    'cell_v2', 'discover_hosts', '--verbose'],
                   capture_output=True, text=True)
if r.returncode:
    sys.exit('nova-manage cell_v2 discover_hosts failed:\n' + r.stdout + r.stderr)
say('compute host mapped to cell1')

# 2. flavors (public)
FLAVORS = [  # name, ram MiB, vcpus, disk GiB
    ('m1.nano', 128, 1, 1), ('m1.tiny', 512, 1, 1), ('m1.small', 2048, 1, 20),
    ('m1.medium', 4096, 2, 40), ('m1.large', 8192, 4, 80),
]
have = {f.name for f in admin.compute.flavors()}
for i, (name, ram, vcpus, disk) in enumerate(FLAVORS, 1):
    if name not in have:
        admin.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=disk,
                                    id=str(i), is_public=True)
say('flavors: %s' % ', '.join(f[0] for f in FLAVORS))

# 3. image: 1 MiB of data uploaded to glance's file store, public
if not admin.image.find_image('cirros'):
    data = b'realstack fake cirros image\n' + b'\0' * (1024 * 1024 - 28)
    img = admin.image.create_image(
        name='cirros', data=data, disk_format='raw', container_format='bare',
        visibility='public', wait=True)
    say('image cirros uploaded (%s, %s)' % (img.id, admin.image.get_image(img.id).status))
else:
    say('image cirros exists')

# 4. network: shared tenant network 'private' with an IPv4 subnet
net = admin.network.find_network('private')
if not net:
    net = admin.network.create_network(name='private', is_shared=True)
priv_sub = admin.network.find_subnet('private-subnet', network_id=net.id)
if not priv_sub:
    priv_sub = admin.network.create_subnet(network_id=net.id, name='private-subnet',
                                           ip_version=4, cidr='10.0.0.0/24',
                                           gateway_ip='10.0.0.1', enable_dhcp=True)
say('network private (%s) 10.0.0.0/24, shared' % net.id)

# 5. external network 'public' (admin's, not shared: every project sees it
# because it is external) with a DHCP-less subnet for floating IPs.
pub = admin.network.find_network('public')
if not pub:
    pub = admin.network.create_network(
        name='public', is_router_external=True, is_shared=False,
        provider_network_type='flat', provider_physical_network='public')
if not admin.network.find_subnet('public-subnet', network_id=pub.id):
    admin.network.create_subnet(
        network_id=pub.id, name='public-subnet', ip_version=4,
        cidr='203.0.113.0/24', gateway_ip='203.0.113.1', enable_dhcp=False,
        allocation_pools=[{'start': '203.0.113.10', 'end': '203.0.113.250'}])
say('network public (%s) 203.0.113.0/24, external' % pub.id)

# 6. router 'router1' of the demo project: gateway on public, interface on private
demo = admin.identity.find_project('demo', domain_id='default')
router = admin.network.find_router('router1', project_id=demo.id)
if not router:
    router = admin.network.create_router(
        name='router1', project_id=demo.id,
        external_gateway_info={'network_id': pub.id})
elif not router.external_gateway_info:
    router = admin.network.update_router(
        router, external_gateway_info={'network_id': pub.id})
if not any(ip['subnet_id'] == priv_sub.id
           for p in admin.network.ports(device_id=router.id,
                                        device_owner='network:router_interface')
           for ip in p.fixed_ips):
    admin.network.add_interface_to_router(router, subnet_id=priv_sub.id)
gw = [ip['ip_address'] for ip in router.external_gateway_info['external_fixed_ips']]
say('router router1 (%s) of project demo: gateway public %s, interface private 10.0.0.1'
    % (router.id, ', '.join(gw)))

# 7. Cinder: cinder-volume (backend 'fake') reports to the scheduler, and the public
# volume type 'standard' (cinder.conf's default_volume_type) lands on it.
deadline = time.time() + 300 * float(os.environ.get('RS_WAIT_SCALE') or 1)
while True:
    try:
        vols = [s for s in admin.block_storage.services()
                if s.binary == 'cinder-volume' and s.state == 'up']
        if vols:
            break
    except Exception as e:  # API may still be warming up
        say('waiting for cinder-volume: %s' % e)
    if time.time() > deadline:
        sys.exit('cinder-volume did not come up (see logs/cinder-volume.log)')
    time.sleep(1)
vtype = admin.block_storage.find_type('standard')
if not vtype:
    vtype = admin.block_storage.create_type(
        name='standard', description='realstack fake backend',
        is_public=True, extra_specs={'volume_backend_name': 'fake'})
say('cinder-volume %s is up; volume type standard (%s)' % (vols[0].host, vtype.id))
