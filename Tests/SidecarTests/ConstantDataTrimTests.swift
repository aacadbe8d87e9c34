import XCTest

@testable import Sidecar

final class ConstantDataTrimTests: XCTestCase {
    func testFileBackedRunsAreThePresentUnwrittenPages() {
        let present: UInt64 = 1 << 63
        let file: UInt64 = 1 << 61
        let entries: [UInt64] = [
            present | file, present | file,  // run 0..<2
            present,  // written (a private copy): kept
            0,  // not resident
            present | file,  // run 4..<5
            file,  // not present (swapped-out file page flag alone)
            present | file, present | file, present | file,  // run 6..<9 (to the end)
        ]
        XCTAssertEqual(ResidentCodeTrimmer.fileBackedRuns(in: entries), [0..<2, 4..<5, 6..<9])
        XCTAssertEqual(ResidentCodeTrimmer.fileBackedRuns(in: []), [])
        XCTAssertEqual(ResidentCodeTrimmer.fileBackedRuns(in: [present, 0]), [])
    }

    /// A hand-made ELF64 image: the header, three section headers and their name table.
    func testSectionHeadersAreRead() {
        var image = [UInt8](repeating: 0, count: 0x200)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { image[offset + index] = byte } }
        }
        image[0...5] = [0x7F, 0x45, 0x4C, 0x46, 2, 1]
        let names = Array("\0.text\0.rodata\0.shstrtab\0".utf8)
        image.replaceSubrange(0x180..<(0x180 + names.count), with: names)
        put(UInt64(0x40), at: 0x28)  // e_shoff
        put(UInt16(64), at: 0x3A)  // e_shentsize
        put(UInt16(4), at: 0x3C)  // e_shnum (the null section first)
        put(UInt16(3), at: 0x3E)  // e_shstrndx
        func section(_ index: Int, name: UInt32, flags: UInt64, address: UInt64, offset: UInt64, size: UInt64) {
            let entry = 0x40 + index * 64
            put(name, at: entry)
            put(flags, at: entry + 0x08)
            put(address, at: entry + 0x10)
            put(offset, at: entry + 0x18)
            put(size, at: entry + 0x20)
        }
        section(1, name: 1, flags: 0x6, address: 0x1000, offset: 0, size: 0x500)  // .text: alloc, exec
        section(2, name: 7, flags: 0x3, address: 0x4000, offset: 0, size: 0x2345)  // .rodata: write, alloc
        section(3, name: 15, flags: 0, address: 0, offset: 0x180, size: UInt64(names.count))
        let sections = ExecutableSections.parse { offset, count in
            guard Int(offset) + count <= image.count else { return nil }
            return Array(image[Int(offset)..<(Int(offset) + count)])
        }
        XCTAssertEqual(sections.map(\.name), ["", ".text", ".rodata", ".shstrtab"])
        XCTAssertEqual(sections[2], .init(name: ".rodata", address: 0x4000, size: 0x2345, isWritable: true, occupiesMemory: true))
        XCTAssertFalse(sections[1].isWritable)
        XCTAssertFalse(sections[3].occupiesMemory)
        // Not ELF64 little-endian: nothing.
        image[4] = 1
        XCTAssertEqual(ExecutableSections.parse { offset, count in Array(image[Int(offset)..<(Int(offset) + count)]) }, [])
    }

    /// This test binary's own sections, where they are loaded: the `.text` section holds the
    /// code of a function of this binary.
    func testThisProcessSectionsAreWhereTheCodeIs() throws {
        let (sections, bias) = try XCTUnwrap(ExecutableSections.ofThisProcess())
        let text = try XCTUnwrap(sections.first { $0.name == ".text" })
        let start = bias + UInt(text.address)
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let executable = maps.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            guard fields.count > 1, fields[1].contains("x"), let dash = fields[0].firstIndex(of: "-"),
                let low = UInt(fields[0][..<dash], radix: 16), let high = UInt(fields[0][fields[0].index(after: dash)...], radix: 16)
            else { return false }
            return low <= start && start < high
        }
        XCTAssertTrue(executable, "the .text section's loaded address lies in an executable mapping")
    }
}
