#!/bin/sh
# The ova source driver end to end: examples/quickstart/make-ova.sh makes a
# share, ova_test lists it and copies every disk through qemu-nbd and
# `ferry copy`; then the Forklift scan rules (depths, extracted OVFs, one
# .ovf per folder) and broken archives.
#   ova.sh OVA_TEST FERRY MAKE_OVA
set -eu
ova_test=$1 ferry=$2 make_ova=$3

for t in qemu-img qemu-nbd tar; do
	command -v $t >/dev/null 2>&1 || { echo "$t not installed"; exit 77; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-ova.XXXXXX")
trap 'rm -rf "$dir"' EXIT
work=$dir/work
mkdir "$work"

# 1. The quickstart share.
sh "$make_ova" "$dir/share" >/dev/null
"$ova_test" quickstart "$dir/share" "$ferry" "$work"

# 2. Forklift's layout rules: .ova in the root and first-level folders,
#    extracted .ovf down to second-level folders.
s2=$dir/share2
mkdir -p "$s2/l1/l2/l3" "$s2/l1/ext"
cp "$dir/share/sums.txt" "$s2/"
cp "$dir/share/tiny-linux.ova" "$s2/l1/"               # depth 2: listed
cp "$dir/share/tiny-linux.ova" "$s2/l1/l2/deep.ova"    # depth 3: not scanned
(cd "$s2/l1/ext" && tar xf "$dir/share/tiny-efi.ova")  # depth 3 .ovf: listed
cp "$s2/l1/ext/tiny-efi.ovf" "$s2/l1/l2/l3/x.ovf"      # depth 4: not scanned
"$ova_test" copy-all "$s2" "$ferry" "$work" 2

# 3. Broken shares give findings, not crashes.
s3=$dir/share3
mkdir -p "$s3/dup" "$s3/trunc" "$s3/junk"
tar -xOf "$dir/share/tiny-efi.ova" tiny-efi.ovf >"$s3/dup/a.ovf"
cp "$s3/dup/a.ovf" "$s3/dup/b.ovf"
"$ova_test" finding "$s3" ova.folder.multiple-ovf "$work"
size=$(stat -c %s "$dir/share/tiny-linux.ova")
head -c $((size / 2 + 1000)) "$dir/share/tiny-linux.ova" >"$s3/trunc/cut.ova"
"$ova_test" finding "$s3" ova.archive.truncated "$work"
"$ova_test" finding "$s3" ova.disk.missing "$work"
head -c 300000 /dev/urandom >"$s3/junk/noise.ova"
"$ova_test" finding "$s3" ova.archive.invalid "$work"
printf '<Envelope><VirtualSystem ovf:id="x">' >"$s3/junk/bad.ovf"
"$ova_test" finding "$s3" ovf.xml.malformed "$work"

# 4. Disk formats: raw inside an .ova and extracted, a blank disk (no
#    file), a qcow2 whose backing file is not opened, and VMDKs that could
#    name other files on this host (descriptor files) refused.
s4=$dir/share4
mkdir -p "$s4/raw" "$s4/desc" "$s4/q" "$s4/blank" "$s4/rawova"
# ovf NAME FORMAT_URL HREF CAPACITY: one VM, one disk
ovf() {
	fileref= file=
	if [ -n "$3" ]; then
		fileref=" ovf:fileRef=\"f1\""
		file="<File ovf:id=\"f1\" ovf:href=\"$3\"/>"
	fi
	cat <<OVF
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>$file</References>
  <DiskSection><Disk ovf:diskId="d1"$fileref ovf:capacity="$4" ovf:format="$2"/></DiskSection>
  <VirtualSystem ovf:id="$1"><Name>$1</Name><VirtualHardwareSection>
    <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
    <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>
    <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>
  </VirtualHardwareSection></VirtualSystem>
</Envelope>
OVF
}
raw_url=http://en.wikipedia.org/wiki/Byte
vmdk_url=http://www.vmware.com/interfaces/specifications/vmdk.html
qcow_url=http://www.gnome.org/~markmc/qcow-image-format.html
head -c 1048576 /dev/urandom >"$s4/raw/disk.img"
ovf raw "$raw_url" disk.img 1048576 >"$s4/raw/raw.ovf"
(cd "$s4/raw" && tar --format=ustar -cf "$s4/rawova/rawova.ova" raw.ovf disk.img)
ovf blank "$raw_url" "" 2097152 >"$s4/blank/blank.ovf"
printf '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 8 FLAT "/etc/hostname" 0\n' \
	>"$s4/desc/disk.vmdk"
ovf desc "$vmdk_url" disk.vmdk 4096 >"$s4/desc/desc.ovf"
qemu-img create -q -f qcow2 "$s4/q/disk.qcow2" 3M
ovf q "$qcow_url" disk.qcow2 3145728 >"$s4/q/q.ovf"
mkdir "$s4/qb"
qemu-img create -q -f qcow2 -b /etc/hostname -F raw "$s4/qb/disk.qcow2" 3M
ovf qb "$qcow_url" disk.qcow2 3145728 >"$s4/qb/qb.ovf"
mkdir "$s4/delta"
qemu-img create -q -f vmdk "$dir/base.vmdk" 3M
qemu-img create -q -f vmdk -b "$dir/base.vmdk" -F vmdk "$s4/delta/disk.vmdk" 3M
ovf delta "$vmdk_url" disk.vmdk 3145728 >"$s4/delta/delta.ovf"
"$ova_test" disks "$s4" "$work" >"$dir/disks.out"
cat >"$dir/disks.want" <<WANT
blank 0 ok 2097152
delta 0 error unsupported
desc 0 error unsupported
q 0 ok 3145728
qb 0 error unsupported
raw 0 ok 1048576
raw 0 ok 1048576
WANT
diff -u "$dir/disks.want" "$dir/disks.out"

# Nothing this test started is still running.
if pgrep -f "$work" >/dev/null; then
	echo "servers left running:"
	pgrep -af "$work"
	exit 1
fi
echo "ova: all checks passed"
