using Isolate.Cgroups;

namespace Isolate.Tests.Support;

/// <summary>A temporary directory laid out like /sys/fs/cgroup. Like the kernel, mkdir fills a
/// new group with its control files (the ones given for its hierarchy), writes go only to
/// files that exist, and every write is recorded in order.</summary>
public sealed class FakeCgroupFilesystem : ICgroupFilesystem, IDisposable
{
    private readonly Func<string, IEnumerable<string>> _controlFiles;

    public string Root { get; } = Directory.CreateTempSubdirectory("isolate-test-cgroupfs-").FullName;

    public List<(string Path, string Value)> Writes { get; } = [];

    /// <param name="controlFiles">For a new group's path, the control files the kernel would make.</param>
    public FakeCgroupFilesystem(Func<string, IEnumerable<string>> controlFiles) => _controlFiles = controlFiles;

    public string Path(string relative) => System.IO.Path.Combine(Root, relative);

    /// <summary>A group made by "the kernel" (the root, say), with content.</summary>
    public void Seed(string relative, params (string File, string Content)[] files)
    {
        Directory.CreateDirectory(Path(relative));
        foreach (var (file, content) in files)
            File.WriteAllText(System.IO.Path.Combine(Path(relative), file), content);
    }

    public bool MakeDirectory(string path)
    {
        if (Directory.Exists(path))
            return false;
        Directory.CreateDirectory(path);
        foreach (string file in _controlFiles(path))
            File.WriteAllText(System.IO.Path.Combine(path, file), "");
        return true;
    }

    public bool Exists(string path) => System.IO.Path.Exists(path);

    public void Write(string path, string value)
    {
        if (!File.Exists(path))
            throw new IsolateException($"set {System.IO.Path.GetFileName(path)}={value} in {System.IO.Path.GetDirectoryName(path)}: No such file or directory");
        File.WriteAllText(path, value);
        Writes.Add((System.IO.Path.GetRelativePath(Root, path), value));
    }

    public string? Read(string path) => File.Exists(path) ? File.ReadAllText(path) : null;

    public bool RemoveDirectory(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
        return true;
    }

    /// <summary>The device programs attached, by group, in order (the last is what the group has).</summary>
    public List<(string Path, byte[] Program)> DevicePrograms { get; } = [];

    public void SetDeviceProgram(string path, byte[] program)
    {
        if (!Directory.Exists(path))
            throw new IsolateException($"cgroup v2 device rules: open {path}: No such file or directory");
        DevicePrograms.Add((System.IO.Path.GetRelativePath(Root, path), program));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
