"""cinder-volume's driver on realstack: the wheel's FakeLoggingVolumeDriver, plus image clones.

cinder.tests.fake_driver.FakeLoggingVolumeDriver (shipped in the cinder wheel) creates,
deletes, extends, exports and attaches volumes without any storage: every LVM command
goes to a no-op `execute`, and initialize_connection answers an iSCSI connection that
Nova's fake virt driver accepts as it is. The one path it leaves to the real LVM code is a
volume made from an image (boot from volume, `--image` on create): that downloads the
image, runs `qemu-img info`/`convert` as root and writes /dev/mapper/cinder--volumes-...,
none of which exists here. This subclass answers that the backend cloned the image, as a
copy-on-write backend (RBD) does, so Cinder records the image metadata and marks the
volume bootable and nothing is copied.

Set with `volume_driver = realstack_volume.RealstackFakeVolumeDriver` (this directory on
cinder-volume's PYTHONPATH).
"""
from cinder.tests import fake_driver
from cinder.volume import volume_utils


class RealstackFakeVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    """FakeLoggingVolumeDriver whose image-to-volume copy is a clone that copies nothing."""

    @volume_utils.trace_method
    def clone_image(self, context, volume, image_location, image_meta, image_service):
        return {}, True
