using Isolate.Interop;

namespace Isolate.Tests.Unit;

/// <summary>open(2) returns -1 in a 32-bit register; a handle marshalled from it must still
/// read as invalid (it read 0xFFFFFFFF as a valid fd, so every failed open looked like a
/// success and its caller got EBADF from the next call instead of the open's own error).</summary>
public sealed class FileDescriptorTests
{
    [Fact]
    public void A_failed_open_is_an_invalid_handle_with_the_opens_errno()
    {
        using var fd = FileDescriptor.Open("/no-such-directory-" + Guid.NewGuid().ToString("N"), OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        Assert.True(fd.IsInvalid);
        Assert.Equal(Errno.ENOENT, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
    }

    [Fact]
    public void A_successful_open_is_valid_and_its_filesystem_can_be_told()
    {
        using var fd = FileDescriptor.Open("/proc", OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        Assert.False(fd.IsInvalid);
        Assert.Equal(0x9fa0L /* PROC_SUPER_MAGIC */, FileSystemStat.TypeOf(fd));
    }
}
