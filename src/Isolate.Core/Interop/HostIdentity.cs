namespace Isolate.Interop;

/// <summary>Who runs Isolate: root, or a user that gets a rootless container.</summary>
public static class HostIdentity
{
    public static uint EffectiveUserId => Libc.GetEffectiveUserId();
    public static uint EffectiveGroupId => Libc.GetEffectiveGroupId();
}
