using System.Globalization;

namespace Isolate.Runtime;

/// <summary>--pid-file: the host PID of the container's PID 1, for init scripts (the PID
/// to watch; signals still go to Isolate, which forwards them). Written whole (a temporary
/// file renamed into place) before the command starts; removed when the container ends if
/// it still names it.</summary>
internal static class PidFile
{
    public static bool Write(string path, int pid)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temporary, pid.ToString(CultureInfo.InvariantCulture) + "\n");
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
            throw new IsolateException($"--pid-file {path}: {e.Message}");
        }
    }

    public static void Remove(string path, int pid)
    {
        try
        {
            if (File.ReadAllText(path).Trim() == pid.ToString(CultureInfo.InvariantCulture))
                File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone or replaced: not ours to remove any more
        }
    }
}
