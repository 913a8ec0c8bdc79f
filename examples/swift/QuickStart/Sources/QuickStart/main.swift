// Quick start: three unit axes with ids mapped to titles, one cosine query, the top two hits.
import NativeVectorStore

let titles: [UInt64: String] = [0: "x-axis", 1: "y-axis", 2: "z-axis"]

do {
    let store = try VectorStore(dimensions: 3)
    try store.add([[1, 0, 0], [0, 1, 0], [0, 0, 1]], ids: [0, 1, 2])

    for hit in try store.cosineSearch([0.9, 0.1, 0.0], topK: 2) {
        print(titles[hit.id] ?? "?", hit.value)
    }
} catch {
    print("error: \(error)")
}
